// Progressive enhancement only: every page works without this file.
// No inline handlers anywhere (the Content-Security-Policy forbids them); behaviour lives here.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setUpNavToggle() {
    var button = document.querySelector(".nav-toggle");
    var nav = document.getElementById("site-nav");
    if (!button || !nav) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = nav.classList.toggle("is-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpNavToggle);
  } else {
    setUpNavToggle();
  }
})();
