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

// The Table Filter's hint follows the Table chosen on the table mapping form (hints of every
// table in <script id="filter-hints">, from mappings_app.forms.table_filter_hints).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[name='local_model']");
  const data = document.getElementById("filter-hints");
  const help = document.querySelector("[data-filter-help]");
  if (!select || !data || !help) return;
  const hint = JSON.parse(data.textContent)[select.value];
  const code = (text) => Object.assign(document.createElement("code"), { textContent: text });
  const about = help.querySelector("[data-filter-hint]");
  const examples = help.querySelector("[data-filter-examples]");
  const summary = help.querySelector("summary");
  about.replaceChildren();
  examples.replaceChildren();
  summary.textContent = "Table filter syntax" + (hint ? ` — fields of ${hint.table}` : "");
  const p = document.createElement("p");
  p.className = "mb-1";
  about.append(p);
  if (!hint) {
    p.textContent = "Choose the Table first: the examples then name its fields.";
    return;
  }
  p.append(`Compare fields of the ${hint.table} table: `);
  hint.fields.forEach((name, i) => p.append(...(i ? [", "] : []), code(name)));
  p.append(hint.more_fields ? ` and ${hint.more_fields} more.` : ".");
  if (hint.reference) p.append(" ", code(hint.reference), " follows a reference to its record's field.");
  if (hint.examples.length) {
    examples.append("Examples: ");
    hint.examples.forEach((text, i) => examples.append(...(i ? [" · "] : []), code(text)));
  }
});
