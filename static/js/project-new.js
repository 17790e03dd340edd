// The new-project form: the slug follows the name until the lead types a slug of their own.
// (Without this script the server makes the slug from the name when it is left empty.)

const form = document.getElementById("new-project");
const name = form && form.elements.name;
const slug = form && form.elements.slug;

function slugify(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9\s-]/g, "").trim().replace(/[\s-]+/g, "-").slice(0, 100).replace(/^-+|-+$/g, "");
}

if (name && slug) {
  let own = slug.value !== "" && slug.value !== slugify(name.value);
  slug.addEventListener("input", () => { own = slug.value !== ""; });
  name.addEventListener("input", () => { if (!own) slug.value = slugify(name.value); });
}
