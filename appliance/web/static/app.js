// ЭЖ-box: the little script the pages need beyond htmx (no inline handlers: CSP).
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("select[data-autosubmit]")) el.form.submit();
});
document.addEventListener("click", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-print]")) window.print();
  if (el.matches && el.matches("input[data-check-all]")) {
    var box = el.closest("form");
    box.querySelectorAll("input[type=checkbox][name='" + el.dataset.checkAll + "']").forEach(function (c) {
      c.checked = el.checked;
    });
  }
});
