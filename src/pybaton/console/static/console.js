// The console's only script: "select all" for bulk review decisions, and a confirm step before writes.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box.classList && box.classList.contains("all")) {
    var table = box.closest("table");
    table.querySelectorAll("tbody input[type=checkbox]").forEach(function (item) { item.checked = box.checked; });
  }
});
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
