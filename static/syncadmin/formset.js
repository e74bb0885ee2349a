// "Add row" of a Django formset: clones the <template> of the empty form, numbers it, and
// bumps TOTAL_FORMS. Without JavaScript the formset's blank extra row does the same job.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button[data-add-row]").forEach((button) => {
    const template = document.getElementById(button.dataset.addRow);
    const form = button.closest("form");
    const total = form && form.querySelector("input[name$='-TOTAL_FORMS']");
    if (!template || !total) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const index = Number(total.value);
      const html = template.innerHTML.replace(/__prefix__/g, String(index));
      form.querySelector("table").insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
    });
  });
});
