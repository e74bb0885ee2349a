// Select-all checkbox of bulk-action tables.
document.addEventListener("change", (event) => {
  const box = event.target.closest("input[data-select-all]");
  if (!box) return;
  const name = box.dataset.selectAll;
  box.closest("table").querySelectorAll(`input[name="${name}"]`).forEach((input) => {
    input.checked = box.checked;
  });
});

// Forms that ask first: <form data-confirm="Question?">.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
