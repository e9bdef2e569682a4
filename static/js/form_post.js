// Sends the form_post authorization response on to the application as
// soon as the page is read. The page holds no inline script (the CSP
// allows none); without JavaScript the user presses its button.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
  }
});
