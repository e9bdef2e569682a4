// The admin and account-deletion pages work without JavaScript; this adds
// two conveniences. A deletion form's button stays disabled until the
// email address typed matches the account's exactly (the server checks it
// again). The user search shows results as you type, by fetching the same
// page and swapping its result list in.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm-email]").forEach(function (form) {
    var want = form.getAttribute("data-confirm-email");
    var input = form.querySelector("[data-confirm-input]");
    var button = form.querySelector("[data-confirm-button]");
    if (!input || !button) {
      return;
    }
    var check = function () {
      button.disabled = input.value !== want;
    };
    input.addEventListener("input", check);
    check();
  });

  var search = document.querySelector("form[data-live-search]");
  var results = document.querySelector("[data-results]");
  if (!search || !results || !window.fetch) {
    return;
  }
  var timer = null;
  var seq = 0;
  var update = function () {
    var query = new URLSearchParams(new FormData(search)).toString();
    var mine = ++seq;
    fetch("/admin?" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (mine !== seq) {
          return; // a newer search is on its way
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-results]");
        if (fresh) {
          results.replaceWith(fresh);
          results = fresh;
          history.replaceState(null, "", "/admin?" + query);
        }
      })
      .catch(function () {});
  };
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  });
});
