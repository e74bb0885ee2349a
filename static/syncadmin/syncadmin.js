// Select-all checkbox of bulk-action tables.
document.addEventListener("change", (event) => {
  const box = event.target.closest("input[data-select-all]");
  if (!box) return;
  const name = box.dataset.selectAll;
  box.closest("table").querySelectorAll(`input[name="${name}"]`).forEach((input) => {
    input.checked = box.checked;
  });
});
