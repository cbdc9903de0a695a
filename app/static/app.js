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
