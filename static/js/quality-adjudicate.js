// The adjudication page: a click on a rater's value puts it in the final-score form.
(function () {
  "use strict";
  const form = document.getElementById("adjudication-form");
  if (!form) return;
  document.querySelectorAll("button.use-value").forEach(function (button) {
    button.addEventListener("click", function () {
      const field = form.elements.namedItem(button.dataset.field);
      if (!field) return;
      field.value = button.dataset.value;
      field.dispatchEvent(new Event("change", { bubbles: true }));
      field.focus();
    });
  });
})();
