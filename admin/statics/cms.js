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
