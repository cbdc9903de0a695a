// The tech page's little bit of plain JS on top of htmx (see app/tech/routes.py).
(function () {
  "use strict";

  // Every htmx answer from /tech carries a fresh CSRF token: keep the page's copies
  // current, so a page left open all day (or a phone that lost its session cookie)
  // does not fail the next tap.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var token = xhr && xhr.getResponseHeader("X-CSRF-Token");
    if (token) {
      document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": token }));
      document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
        input.value = token;
      });
    }
    // A tap that went through clears an old problem message (a background poll does not:
    // the message must stay until the tech acted on it).
    var polled = event.detail.elt && event.detail.elt.hasAttribute("data-poll");
    if (event.detail.successful && !polled && !(xhr && xhr.getResponseHeader("HX-Retarget"))) {
      var box = document.getElementById("tech-problem");
      if (box) { box.innerHTML = ""; }
    }
  });

  // The server sends plain messages for failed requests into #tech-problem (HX-Retarget).
  // htmx does not swap 401/404 answers by itself; these must be shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#tech-problem") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A typed reply survives a failed send, a logout and a reload: it is kept in this
  // tab's sessionStorage until the server confirms it was queued.
  function restoreDrafts(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-draft-key]").forEach(function (form) {
      var key = form.getAttribute("data-draft-key");
      var box = form.querySelector("textarea");
      if (!box) { return; }
      if (form.hasAttribute("data-sent")) {
        sessionStorage.removeItem(key);
      } else if (!box.value && sessionStorage.getItem(key)) {
        box.value = sessionStorage.getItem(key);
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-draft-key]");
    if (form && event.target.tagName === "TEXTAREA") {
      sessionStorage.setItem(form.getAttribute("data-draft-key"), event.target.value);
    }
    // Typing minutes under "Other" picks "Other".
    if (event.target.id === "eta-custom" && event.target.value) {
      var other = document.getElementById("eta-custom-choice");
      if (other) { other.checked = true; }
    }
  });
  document.addEventListener("DOMContentLoaded", function () { restoreDrafts(document); });
  document.addEventListener("htmx:load", function (event) { restoreDrafts(event.target); });
})();
