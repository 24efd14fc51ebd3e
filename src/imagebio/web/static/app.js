// Cohort table search: filters rows in the page (the search text never goes into a URL).
(function () {
  var box = document.getElementById("subject-search");
  if (!box) return;
  box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    document.querySelectorAll("#subjects tbody tr.subject-row").forEach(function (row) {
      row.classList.toggle("hidden", q !== "" && row.textContent.toLowerCase().indexOf(q) < 0);
    });
  });
})();
