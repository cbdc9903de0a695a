// "Copy link" on the estimate and invoice pages: copy the customer link and say so.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var input = document.querySelector(button.getAttribute("data-copy"));
  if (!input) return;
  var status = button.closest(".copy-link") && button.closest(".copy-link").querySelector(".copy-status");
  function done(text) { if (status) status.textContent = text; }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(function () { done("Link copied."); }, function () {
      input.select(); done("Press Ctrl+C (or ⌘C) to copy.");
    });
  } else {
    input.select();
    try { document.execCommand("copy"); done("Link copied."); } catch (e) { done("Press Ctrl+C (or ⌘C) to copy."); }
  }
});
