// The customer picker (office/_customer_picker.html). htmx fetches the matches as the
// office types; this file picks one (click, tap, or Enter), moves through them with the
// arrow keys, and swaps the search box for the chosen customer's chip and back (Change).
// Without it, the same buttons submit the form and the server does each step.
(function () {
  function pickerOf(element) {
    return element && element.closest ? element.closest("[data-picker]") : null;
  }

  function parts(picker) {
    return {
      value: picker.querySelector("[data-picker-value]"),
      chip: picker.querySelector("[data-picker-chip]"),
      card: picker.querySelector("[data-picker-card]"),
      search: picker.querySelector("[data-picker-search]"),
      input: picker.querySelector("[role=combobox]"),
      results: picker.querySelector("[data-picker-results]"),
      status: picker.querySelector("[data-picker-status]"),
    };
  }

  function options(picker) {
    return Array.prototype.slice.call(picker.querySelectorAll("[role=option]"));
  }

  function setActive(picker, option) {
    var input = parts(picker).input;
    options(picker).forEach(function (each) {
      each.classList.toggle("is-active", each === option);
      each.setAttribute("aria-selected", each === option ? "true" : "false");
    });
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setOpen(picker, open) {
    var p = parts(picker);
    if (!p.results) return;
    p.results.hidden = !open;
    p.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) setActive(picker, null);
  }

  // The job form's address: filled with the chosen customer's address unless someone
  // typed another one (the server does the same when the form opens with a customer).
  function fillAddress(picker, address) {
    var selector = picker.getAttribute("data-picker-address");
    var field = selector && document.querySelector(selector);
    if (!field) return;
    var filled = picker.getAttribute("data-picker-filled") || "";
    if (field.value === "" || field.value === filled) {
      field.value = address;
      picker.setAttribute("data-picker-filled", address);
    }
  }

  // Setting a hidden input's value fires no event: say it, so what depends on the
  // customer (the estimate form's job list) can follow.
  function announce(input) {
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function choose(picker, option) {
    var p = parts(picker);
    p.value.value = option.value;
    announce(p.value);
    p.card.replaceChildren.apply(
      p.card,
      Array.prototype.map.call(option.childNodes, function (node) { return node.cloneNode(true); })
    );
    setOpen(picker, false);
    p.search.hidden = true;
    p.chip.hidden = false;
    // A pick answers "Pick a customer.": drop the error the server showed.
    picker.classList.remove("has-error");
    picker.querySelectorAll(".error").forEach(function (error) { error.remove(); });
    p.input.removeAttribute("aria-invalid");
    fillAddress(picker, option.getAttribute("data-address") || "");
    var name = option.querySelector(".picker-name");
    p.status.textContent = "Chosen: " + (name ? name.textContent : "");
    p.chip.querySelector("[data-picker-change]").focus();
  }

  function change(picker) {
    var p = parts(picker);
    p.value.value = "";
    announce(p.value);
    fillAddress(picker, "");
    p.chip.hidden = true;
    p.search.hidden = false;
    p.status.textContent = "";
    p.input.focus(); // htmx searches on focus: the list opens with what was typed before
    p.input.select();
  }

  // Keep the focus in the box when a match is pressed: the list closes when the box loses
  // focus, and some browsers do not focus buttons on click.
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest("[data-picker] [role=option]")) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var option = event.target.closest("[data-picker] [role=option]");
    if (option) {
      event.preventDefault();
      choose(pickerOf(option), option);
      return;
    }
    var changeButton = event.target.closest("[data-picker] [data-picker-change]");
    if (changeButton) {
      event.preventDefault();
      change(pickerOf(changeButton));
      return;
    }
    var findButton = event.target.closest("[data-picker] [data-picker-find]");
    if (findButton) {
      event.preventDefault();
      var input = parts(pickerOf(findButton)).input;
      input.focus();
      htmx.trigger(input, "find");
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target.closest && event.target.closest("[data-picker] [role=combobox]");
    if (!input) return;
    var picker = pickerOf(input);
    var list = options(picker);
    var open = input.getAttribute("aria-expanded") === "true";
    var active = list.findIndex(function (each) { return each.classList.contains("is-active"); });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!list.length) return;
      event.preventDefault();
      setOpen(picker, true);
      var next = event.key === "ArrowDown" ? active + 1 : active - 1;
      if (!open) next = event.key === "ArrowDown" ? 0 : list.length - 1;
      setActive(picker, list[(next + list.length) % list.length]);
    } else if (event.key === "Enter") {
      // Enter in the box picks (the highlighted match, else the best one) or searches; it
      // never submits a half-filled form.
      event.preventDefault();
      if (open && list.length) {
        choose(picker, list[active >= 0 ? active : 0]);
      } else {
        htmx.trigger(input, "find");
      }
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      setOpen(picker, false);
    }
  });

  document.addEventListener("focusout", function (event) {
    var picker = pickerOf(event.target);
    if (!picker || (event.relatedTarget && picker.contains(event.relatedTarget))) return;
    setOpen(picker, false);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var picker = pickerOf(event.target);
    if (!picker) return;
    var p = parts(picker);
    // An answer that arrives after the office moved on stays closed.
    setOpen(picker, document.activeElement === p.input);
    p.status.textContent = p.results.getAttribute("data-status") || "";
  });

  // With this file loaded the list floats over the form (picker.css). Matches the server
  // listed (after a submit without a pick) start open.
  function enhance() {
    document.querySelectorAll("[data-picker]").forEach(function (picker) {
      picker.classList.add("picker-js");
      var results = parts(picker).results;
      if (results && !results.hidden) setOpen(picker, options(picker).length > 0);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
