// The page's settings come from a JSON script element rendered by Django,
// so no template value is ever interpolated into JavaScript source.
window.MEDTWIN = JSON.parse(document.getElementById("live-config").textContent);
