// On a narrow screen the lead navigation scrolls sideways: bring the current page's link into view.
const nav = document.querySelector(".lead-nav");
const here = nav && nav.querySelector("[aria-current=page]");
if (here && nav.scrollWidth > nav.clientWidth) {
  nav.scrollLeft = here.offsetLeft - (nav.clientWidth - here.offsetWidth) / 2;
}
