(function () {
  "use strict";
  var table = document.getElementById("task-table");
  var controls = document.getElementById("task-controls");
  if (!table || !controls) return;
  var body = table.tBodies[0];
  var more = document.getElementById("more-tasks");
  if (more) {
    var rest = more.querySelector("tbody");
    while (rest.firstChild) body.appendChild(rest.firstChild);
    more.hidden = true;
  }
  var rows = Array.prototype.slice.call(body.rows);
  var PAGE = 100;
  var page = 0;
  var shown = rows;
  var filter = document.getElementById("task-filter");
  var status = document.getElementById("task-status");
  var label = document.getElementById("task-page");
  var prev = document.getElementById("task-prev");
  var next = document.getElementById("task-next");
  controls.hidden = false;

  function apply() {
    var words = filter.value.toLowerCase();
    var wanted = status.value;
    shown = rows.filter(function (row) {
      return (!wanted || row.getAttribute("data-status") === wanted) &&
        (!words || row.textContent.toLowerCase().indexOf(words) >= 0);
    });
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (page >= pages) page = pages - 1;
    rows.forEach(function (row) { row.hidden = true; });
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (row) { row.hidden = false; });
    label.textContent = shown.length
      ? (page * PAGE + 1) + "–" + Math.min((page + 1) * PAGE, shown.length) + " of " + shown.length
      : "no task matches";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function sortBy(th, column, kind) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    function key(row) {
      if (kind === "status") return row.getAttribute("data-status") || "";
      if (kind === "num") return parseFloat(row.cells[column].getAttribute("data-v"));
      return row.cells[column].textContent.trim().toLowerCase();
    }
    var keyed = rows.map(function (row, index) { return [key(row), index, row]; });
    keyed.sort(function (a, b) {
      var order = kind === "num" ? a[0] - b[0] : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
      return (ascending ? order : -order) || a[1] - b[1];
    });
    rows = keyed.map(function (item) { return item[2]; });
    rows.forEach(function (row) { body.appendChild(row); });
    page = 0;
    apply();
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    var kind = th.getAttribute("data-sort");
    if (!kind) return;
    th.tabIndex = 0;
    th.title = "Sort";
    th.addEventListener("click", function () { sortBy(th, column, kind); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter") sortBy(th, column, kind);
    });
  });

  function reveal() {
    var id = location.hash.slice(1);
    if (!/^t[0-9]+$/.test(id)) return;
    var row = document.getElementById(id);
    if (!row) return;
    filter.value = "";
    status.value = "";
    page = 0;
    apply();
    page = Math.floor(shown.indexOf(row) / PAGE);
    apply();
    row.scrollIntoView({block: "center"});
  }

  filter.addEventListener("input", function () { page = 0; apply(); });
  status.addEventListener("change", function () { page = 0; apply(); });
  prev.addEventListener("click", function () { page -= 1; apply(); });
  next.addEventListener("click", function () { page += 1; apply(); });
  window.addEventListener("hashchange", reveal);
  apply();
  reveal();
})();
