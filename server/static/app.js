// Progressive enhancement only: every page works without this script.
// A page whose analysis is pending reloads itself until it is done.
(function () {
  var s = document.body && document.body.getAttribute("data-refresh");
  if (s) { setTimeout(function () { location.reload(); }, Number(s) * 1000); }
})();
