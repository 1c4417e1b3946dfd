// КТП edit page: ask before deleting a row (the form works without this script too).
document.addEventListener("click", function (event) {
  var el = event.target;
  if (el.matches && el.matches("button[data-confirm]") && !window.confirm(el.dataset.confirm)) {
    event.preventDefault();
  }
});
