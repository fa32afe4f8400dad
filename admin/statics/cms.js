// The back office's own behaviour. No inline scripts anywhere (the Content-Security-Policy
// forbids them): everything page-specific is wired here from data attributes.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : null;

  // SQLAdmin's own scripts talk to the server with jQuery: they carry the token too.
  if (token && window.jQuery) {
    window.jQuery(document).ajaxSend(function (_event, xhr, settings) {
      if (!/^(GET|HEAD|OPTIONS)$/i.test(settings.type || "GET")) {
        xhr.setRequestHeader("X-CSRF-Token", token);
      }
    });
  }

  // Messages after a save or a delete fade after a few seconds.
  document.querySelectorAll("#cms-messages .toast").forEach(function (toast) {
    window.setTimeout(function () { toast.classList.remove("show"); }, 6000);
    var close = toast.querySelector("[data-bs-dismiss=toast]");
    if (close) {
      close.addEventListener("click", function () { toast.classList.remove("show"); });
    }
  });
})();

// The live preview: the body, rendered and sanitized by the server (the same code a save
// runs), shown beside the form a moment after typing stops.
(function () {
  "use strict";
  var panel = document.querySelector(".cms-preview");
  var body = document.getElementById("body");
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!panel || !body || !meta) { return; }
  var target = panel.querySelector(".cms-preview-body");
  var state = panel.querySelector(".cms-preview-state");
  var timer = null;
  var sent = 0;

  function render() {
    var ticket = ++sent;
    var data = new URLSearchParams();
    data.set("body", body.value);
    fetch(panel.getAttribute("data-preview-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta.getAttribute("content") },
      body: data
    }).then(function (response) {
      return response.json().then(function (json) { return [response.ok, json]; });
    }).then(function (result) {
      if (ticket !== sent) { return; }  // a newer preview is on its way
      if (result[0]) {
        target.innerHTML = result[1].html;  // sanitized by the server
        state.textContent = "As readers will see it.";
      } else {
        state.textContent = result[1].error || "This body cannot be saved as it is.";
      }
    }).catch(function () { state.textContent = "Preview unavailable right now."; });
  }

  body.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(render, 400);
  });
  if (body.value) { render(); }
})();

// Times in forms read "2026-12-02 09:30:05": SQLAdmin's picker format drops the seconds'
// leading zero ("09:30:5"). Minutes are what editors set; seconds stay as stored.
(function () {
  "use strict";
  document.querySelectorAll('[data-role="datetimepicker"]').forEach(function (input) {
    var picker = input._flatpickr;
    if (!picker) { return; }
    picker.set("dateFormat", "Y-m-d H:i:S");
    if (picker.selectedDates.length) {
      picker.setDate(picker.selectedDates[0], false);
    }
  });
})();

// Leaving a form with changes not saved asks first. What the form holds is noted once
// every widget (select2, the date pickers) has set itself up, and compared on leaving:
// typing something and taking it back is no change. Submitting disarms the question; a
// form shown again with errors holds unsaved changes from the start.
(function () {
  "use strict";
  var forms = Array.prototype.slice.call(
    document.querySelectorAll("form.cms-form, form[data-cms-guard]"));
  if (!forms.length) { return; }
  var noted = [];
  var submitting = false;

  function contents(form) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token") { pairs.push([name, String(value)]); }
    });
    return JSON.stringify(pairs);
  }

  function note() {
    noted = forms.map(function (form) {
      var refused = form.querySelector(".alert-danger, .is-invalid");
      return refused ? null : contents(form);
    });
  }

  if (document.readyState === "complete") { note(); } else { window.addEventListener("load", note); }
  forms.forEach(function (form) {
    form.addEventListener("submit", function () { submitting = true; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (submitting || !noted.length) { return; }
    var changed = forms.some(function (form, index) {
      return noted[index] === null || noted[index] !== contents(form);
    });
    if (changed) {
      event.preventDefault();
      event.returnValue = "";  // older browsers need a value to ask
    }
  });
})();

// The tag box asks the server for existing tags as the editor types (select2's ajax, set
// up from the select's data-ajax--* attributes). A new tag typed and entered before the
// answer arrives has nothing highlighted to pick: it is added as typed, as it would be
// without suggestions.
(function () {
  "use strict";
  var $ = window.jQuery;
  if (!$) { return; }
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.classList || !field.classList.contains("select2-search__field")) {
      return;
    }
    var container = field.closest(".select2-container");
    var select = container ? container.previousElementSibling : null;
    if (!select || select.getAttribute("data-role") !== "select2-tags") { return; }
    var term = field.value.trim();
    if (!term || document.querySelector(".select2-results__option--highlighted")) { return; }
    event.preventDefault();
    event.stopPropagation();
    var known = Array.prototype.some.call(select.options, function (option) {
      if (option.value === term) { option.selected = true; return true; }
      return false;
    });
    if (!known) { select.appendChild(new Option(term, term, true, true)); }
    field.value = "";
    $(select).trigger("change").select2("close");
  }, true);
})();
// Media: a click on a picture sets its focal point (saved with the card's form).
(function () {
  "use strict";
  document.querySelectorAll(".cms-media-card").forEach(function (card) {
    var frame = card.querySelector(".cms-focal");
    var dot = card.querySelector(".cms-focal-dot");
    var x = card.querySelector('input[name="focal_x"]');
    var y = card.querySelector('input[name="focal_y"]');
    if (!frame || !dot || !x || !y) { return; }
    function place() {
      dot.style.left = (parseFloat(x.value) * 100) + "%";
      dot.style.top = (parseFloat(y.value) * 100) + "%";
    }
    frame.addEventListener("click", function (event) {
      var box = frame.getBoundingClientRect();
      x.value = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width)).toFixed(3);
      y.value = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height)).toFixed(3);
      place();
    });
    place();
  });
})();

// The article editor: pick or drop an image, it is uploaded and its Markdown inserted at
// the cursor (the preview then shows it).
(function () {
  "use strict";
  var body = document.getElementById("body");
  var picker = document.querySelector(".cms-image-picker");
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!body || !picker || !meta) { return; }
  var input = picker.querySelector('input[type="file"]');
  var state = picker.querySelector(".cms-image-state");

  function insert(text) {
    var start = body.selectionStart, end = body.selectionEnd;
    body.value = body.value.slice(0, start) + text + body.value.slice(end);
    body.selectionStart = body.selectionEnd = start + text.length;
    body.dispatchEvent(new Event("input"));
    body.focus();
  }

  function upload(file) {
    var data = new FormData();
    data.append("file", file);
    data.append("alt", file.name.replace(/\.[^.]*$/, "").replace(/[-_]+/g, " "));
    state.textContent = "Uploading " + file.name + "…";
    fetch(picker.getAttribute("data-upload-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta.getAttribute("content"), "Accept": "application/json" },
      body: data
    }).then(function (response) {
      return response.json().then(function (json) { return [response.ok, json]; });
    }).then(function (result) {
      if (!result[0]) { state.textContent = result[1].detail || "The upload was refused."; return; }
      var alt = result[1].alt.replace(/[\[\]]/g, "");
      insert("![" + alt + "](" + result[1].url + ")");
      state.textContent = "Inserted image #" + result[1].id + "; describe it in Media.";
    }).catch(function () { state.textContent = "Upload unavailable right now."; });
  }

  input.addEventListener("change", function () {
    if (input.files.length) { upload(input.files[0]); input.value = ""; }
  });
  body.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
      body.classList.add("cms-media-drop");
    }
  });
  body.addEventListener("dragleave", function () { body.classList.remove("cms-media-drop"); });
  body.addEventListener("drop", function (event) {
    body.classList.remove("cms-media-drop");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      event.preventDefault();
      upload(event.dataTransfer.files[0]);
    }
  });
})();
