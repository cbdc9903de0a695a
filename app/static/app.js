// A little plain JS on top of htmx: show a plain message when a request fails, so a
// person always knows the tap did not go through and can try again.
document.addEventListener("htmx:responseError", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.getResponseHeader("Content-Type") && xhr.getResponseHeader("Content-Type").indexOf("text/html") === 0 && event.detail.target) {
    return; // the server sent a fragment explaining the error; htmx swaps it (see below)
  }
  showRequestProblem("Something went wrong (" + (xhr ? xhr.status : "?") + "). Please try again.");
});
document.addEventListener("htmx:sendError", function () {
  showRequestProblem("No connection. Nothing was lost: check your signal and tap again.");
});
document.addEventListener("htmx:afterRequest", function (event) {
  // The next request that goes through makes the message stale; left up, it would cover
  // what that request showed (on a phone, the "Log in" link after a session ended).
  var box = document.getElementById("request-problem");
  if (box && !box.hidden && event.detail.successful) {
    box.hidden = true;
    clearTimeout(box._timer);
  }
});
document.addEventListener("htmx:beforeSwap", function (event) {
  // Let 4xx fragments (form errors, "already done") replace the target like a 200 would.
  var status = event.detail.xhr.status;
  if (status === 400 || status === 403 || status === 409 || status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
function showRequestProblem(text) {
  var box = document.getElementById("request-problem");
  if (!box) {
    box = document.createElement("div");
    box.id = "request-problem";
    box.className = "flash flash-error request-problem";
    box.setAttribute("role", "alert");
    document.body.appendChild(box);
  }
  box.textContent = text;
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(function () { box.hidden = true; }, 8000);
}

// What used to be inline (the Content-Security-Policy allows no inline script, and no
// eval, so htmx trigger filters like `[document.visibilityState === 'visible']` are out).

// Polls marked data-poll-visible-only skip their turn while the tab is hidden, and fire
// at once when it shows again (`page-visible from:body` in their hx-trigger).
document.addEventListener("htmx:beforeRequest", function (event) {
  var elt = event.detail.elt;
  if (elt && elt.hasAttribute && elt.hasAttribute("data-poll-visible-only") && document.visibilityState !== "visible") {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", function () {
  if (document.visibilityState === "visible" && window.htmx) {
    window.htmx.trigger(document.body, "page-visible");
  }
});

// A form that must not be sent twice (buying the custom number) disables its button.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.hasAttribute && form.hasAttribute("data-disable-on-submit")) {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
  }
});

// Bars whose length is data (style attributes are not allowed by the policy either).
function sizeBars(root) {
  (root.querySelectorAll ? root : document).querySelectorAll("[data-bar-percent]").forEach(function (bar) {
    bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-bar-percent")) || 0)) + "%";
  });
}
document.addEventListener("DOMContentLoaded", function () { sizeBars(document); });
document.addEventListener("htmx:load", function (event) { sizeBars(event.detail.elt); });
