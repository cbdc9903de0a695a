// The template editor: placeholder chips insert at the cursor, and "Replace with" fixes a
// character that would make the text UCS-2, both without a page load. Each edit fires an
// "input" event, so the htmx preview refreshes as if the person had typed it.
(function () {
  "use strict";

  function changed(textarea) {
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  function insertAtCursor(textarea, text) {
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    if (typeof start !== "number") { start = end = textarea.value.length; }
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    var caret = start + text.length;
    textarea.setSelectionRange(caret, caret);
    changed(textarea);
  }

  document.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-insert]");
    if (chip) {
      var box = document.querySelector(chip.getAttribute("data-target"));
      if (box) { event.preventDefault(); insertAtCursor(box, chip.getAttribute("data-insert")); }
      return;
    }
    var fix = event.target.closest("[data-replace]");
    if (fix) {
      var area = document.querySelector(fix.getAttribute("data-target"));
      if (!area) { return; } // no editor on the page: the button submits the form instead
      event.preventDefault();
      area.value = area.value.split(fix.getAttribute("data-replace")).join(fix.getAttribute("data-with"));
      changed(area);
    }
  });
})();
