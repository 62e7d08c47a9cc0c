/// The SVG's embedded CSS and JavaScript.
extension FlameGraphSVG {
    static let style = """
    <style type="text/css">
    text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }
    #frames > g { cursor: pointer; }
    #frames > g:hover > rect { stroke: black; stroke-width: 0.5; }
    #frames text { pointer-events: none; }
    .title { font-size: 17px; text-anchor: middle; }
    .subtitle { text-anchor: middle; fill: rgb(110,110,110); }
    .button { cursor: pointer; opacity: 0.9; }
    .button:hover { opacity: 1; text-decoration: underline; }
    .hide { display: none; }
    .parent { opacity: 0.5; }
    </style>

    """

    static let script = """
    "use strict";
    var svg, framesGroup, details, unzoomButton, searchButton, matchedText;
    var frames = [], xpad = 10, fullWidth = 0, fontSize = 12, inverted = false, searchTerm = null, zoomed = null;
    function init(evt) {
      svg = document.documentElement;
      framesGroup = document.getElementById("frames");
      details = document.getElementById("details").firstChild;
      unzoomButton = document.getElementById("unzoom");
      searchButton = document.getElementById("search");
      matchedText = document.getElementById("matched");
      xpad = parseFloat(svg.getAttribute("data-xpad"));
      fontSize = parseFloat(svg.getAttribute("data-fontsize"));
      inverted = svg.getAttribute("data-inverted") === "1";
      fullWidth = parseFloat(svg.getAttribute("width")) - 2 * xpad;
      var groups = framesGroup.children;
      for (var i = 0; i < groups.length; i++) {
        var g = groups[i], rect = g.querySelector("rect"), title = g.querySelector("title").textContent;
        frames.push({ g: g, rect: rect, text: g.querySelector("text"), name: title.substring(0, title.lastIndexOf(" (")),
          title: title, x: parseFloat(rect.getAttribute("x")), w: parseFloat(rect.getAttribute("width")),
          y: parseFloat(rect.getAttribute("y")), fill: rect.getAttribute("fill") });
        g.frameIndex = i;
      }
      var params = new URLSearchParams(window.location.search);
      if (params.get("s")) search(params.get("s"));
    }
    function frameOf(node) {
      while (node && node !== svg) {
        if (node.parentNode === framesGroup) return frames[node.frameIndex];
        node = node.parentNode;
      }
      return null;
    }
    function fitText(f, width) {
      var chars = Math.floor(width / (fontSize * 0.59));
      var label = chars < 3 ? "" : (f.name.length <= chars ? f.name : f.name.substring(0, chars - 2) + "..");
      f.text.textContent = label;
    }
    function place(f, x, w) {
      f.rect.setAttribute("x", x.toFixed(2));
      f.rect.setAttribute("width", w.toFixed(2));
      f.text.setAttribute("x", (x + 3).toFixed(2));
      fitText(f, w);
    }
    function isDeeper(a, b) { return inverted ? a.y > b.y : a.y < b.y; }
    function zoom(target) {
      zoomed = target;
      var scale = fullWidth / target.w, eps = 0.0001;
      for (var i = 0; i < frames.length; i++) {
        var f = frames[i];
        var inside = f.x >= target.x - eps && f.x + f.w <= target.x + target.w + eps;
        var covers = f.x <= target.x + eps && f.x + f.w >= target.x + target.w - eps;
        f.g.classList.remove("hide");
        f.g.classList.remove("parent");
        if (f === target || (inside && isDeeper(f, target))) {
          place(f, xpad + (f.x - target.x) * scale, f.w * scale);
        } else if (covers && !isDeeper(f, target)) {
          place(f, xpad, fullWidth);
          f.g.classList.add("parent");
        } else {
          f.g.classList.add("hide");
        }
      }
      unzoomButton.classList.remove("hide");
      if (searchTerm !== null) search(searchTerm);
    }
    function unzoom() {
      zoomed = null;
      for (var i = 0; i < frames.length; i++) {
        var f = frames[i];
        f.g.classList.remove("hide");
        f.g.classList.remove("parent");
        place(f, f.x, f.w);
      }
      unzoomButton.classList.add("hide");
      if (searchTerm !== null) search(searchTerm);
    }
    function resetSearch() {
      searchTerm = null;
      for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
      matchedText.textContent = " ";
      searchButton.textContent = "Search";
    }
    function search(term) {
      var re;
      try { re = new RegExp(term); } catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, "\\\\$&")); }
      searchTerm = term;
      var ranges = [];
      for (var i = 0; i < frames.length; i++) {
        var f = frames[i];
        if (re.test(f.name)) {
          f.rect.setAttribute("fill", "rgb(230,0,230)");
          ranges.push([f.x, f.x + f.w]);
        } else {
          f.rect.setAttribute("fill", f.fill);
        }
      }
      // Nested matches (recursion, a frame and its callee) are counted once: merge the ranges.
      ranges.sort(function (a, b) { return a[0] - b[0]; });
      var covered = 0, end = -1;
      for (var j = 0; j < ranges.length; j++) {
        var r = ranges[j];
        if (r[0] >= end) { covered += r[1] - r[0]; end = r[1]; }
        else if (r[1] > end) { covered += r[1] - end; end = r[1]; }
      }
      var base = zoomed ? zoomed.w : fullWidth;
      if (zoomed) {
        covered = 0; end = -1;
        for (var k = 0; k < ranges.length; k++) {
          var a = Math.max(ranges[k][0], zoomed.x), b = Math.min(ranges[k][1], zoomed.x + zoomed.w);
          if (b <= a) continue;
          if (a >= end) { covered += b - a; end = b; } else if (b > end) { covered += b - end; end = b; }
        }
      }
      var pct = base > 0 ? 100 * covered / base : 0;
      matchedText.textContent = "Matched: " + (pct > 99.95 ? "100" : pct.toFixed(1)) + "%";
      searchButton.textContent = "Reset Search";
      return pct;
    }
    function searchPrompt() {
      if (searchTerm !== null) { resetSearch(); return; }
      var term = prompt("Search for (regular expression):", "");
      if (term !== null && term !== "") search(term);
    }
    window.addEventListener("click", function (e) {
      var f = frameOf(e.target);
      if (f) { zoom(f); return; }
      if (e.target === unzoomButton) unzoom();
      else if (e.target === searchButton) searchPrompt();
    }, false);
    window.addEventListener("mouseover", function (e) {
      var f = frameOf(e.target);
      if (f) details.nodeValue = f.title;
    }, false);
    window.addEventListener("mouseout", function (e) {
      if (frameOf(e.target)) details.nodeValue = " ";
    }, false);
    window.addEventListener("keydown", function (e) {
      if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) { e.preventDefault(); searchPrompt(); }
      else if (e.key === "Escape") { if (zoomed) unzoom(); else if (searchTerm !== null) resetSearch(); }
    }, false);

    """
}
