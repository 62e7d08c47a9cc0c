/// Colour schemes for flame graph frames.
public enum FlamePalette: String, Sendable, CaseIterable {
    /// Reds and yellows (flamegraph.pl's default).
    case hot
    /// Greens and blues, for memory profiles.
    case mem
    /// Blues, for I/O profiles.
    case io
    /// By frame kind: kernel orange, native red, Swift purple, C++ yellow, JIT green, inlined aqua,
    /// unknown grey.
    case kind
}

/// Options for ``FlameGraphSVG``, named after flamegraph.pl's.
public struct FlameGraphOptions: Sendable, Equatable {
    /// nil: the graph's own (``FlameGraph/defaultTitle``), else "Flame Graph" or "Icicle Graph".
    public var title: String?
    public var subtitle: String?
    /// Image width in pixels.
    public var width: Double
    /// Frames narrower than this (pixels) are left out, with everything above them.
    public var minWidth: Double
    public var palette: FlamePalette
    /// Icicle graph: the root at the top, growing down.
    public var inverted: Bool
    /// Frame height in pixels.
    public var frameHeight: Double
    public var fontSize: Double
    /// What the counts are, for tooltips; nil: the graph's unit (``FlameGraph/countName``).
    public var countName: String?

    public init(
        title: String? = nil, subtitle: String? = nil, width: Double = 1200, minWidth: Double = 0.1,
        palette: FlamePalette = .hot, inverted: Bool = false, frameHeight: Double = 16, fontSize: Double = 12,
        countName: String? = nil
    ) {
        self.title = title
        self.subtitle = subtitle
        self.width = width
        self.minWidth = minWidth
        self.palette = palette
        self.inverted = inverted
        self.frameHeight = frameHeight
        self.fontSize = fontSize
        self.countName = countName
    }
}

/// Renders a ``FlameGraph`` as a self-contained interactive SVG (inline CSS and JavaScript):
///
/// - hover shows `name (N samples, P%)` in the details line (and as a tooltip);
/// - a click zooms to a frame (its ancestors span the width, unrelated frames are hidden), "Reset
///   Zoom" (or Escape) returns;
/// - Ctrl-F, F3 or "Search" asks for a regular expression, highlights the matching frames and shows
///   the share of samples they cover (`Matched: 50.0%`, nested matches counted once); a second
///   Ctrl-F clears the search. `?s=REGEX` in the URL searches on load.
///
/// Frames narrower than ``FlameGraphOptions/minWidth`` are not written, so the file size depends on
/// the image width, not on the profile's size. Colours derive from a hash of the name, so a function
/// has the same colour in every graph.
public enum FlameGraphSVG {
    static let xpad = 10.0

    /// The SVG document.
    public static func render(_ graph: FlameGraph, options: FlameGraphOptions = FlameGraphOptions()) -> String {
        String(decoding: bytes(graph, options: options), as: UTF8.self)
    }

    /// The SVG document as UTF-8.
    public static func bytes(_ graph: FlameGraph, options: FlameGraphOptions = FlameGraphOptions()) -> [UInt8] {
        var out = SVGBuffer()
        let total = graph.total
        let countName = options.countName ?? graph.countName
        let fontSize = options.fontSize
        let frameHeight = options.frameHeight
        let width = max(options.width, 2 * xpad + 10)
        let plotWidth = width - 2 * xpad
        let perSample = total > 0 ? plotWidth / Double(total) : 0

        // Visible nodes: breadth by depth, children only of visible nodes.
        var visible: [Int32] = []
        var x = [Double](repeating: 0, count: graph.nodeName.count)
        var stack: [Int32] = [0]
        var maxDepth = 0
        while let node = stack.popLast() {
            let n = Int(node)
            if n != 0 { visible.append(node); maxDepth = max(maxDepth, Int(graph.nodeDepth[n])) }
            var cx = x[n]
            for child in graph.children[n] {
                let c = Int(child)
                x[c] = cx
                cx += Double(graph.nodeValue[c]) * perSample
                if Double(graph.nodeValue[c]) * perSample >= options.minWidth { stack.append(child) }
            }
        }

        let ypadTop = fontSize * 3 + (options.subtitle == nil ? 0 : fontSize * 2) + (options.palette == .kind && !graph.isDifferential ? fontSize * 1.5 : 0)
        let ypadBottom = fontSize * 2 + 10
        let height = ypadTop + ypadBottom + Double(maxDepth + 1) * frameHeight
        func frameY(_ depth: Int) -> Double {
            // Depth 1 is the outermost visible frame.
            options.inverted
                ? ypadTop + Double(depth - 1) * frameHeight
                : height - ypadBottom - Double(depth) * frameHeight
        }

        out.append("<?xml version=\"1.0\" standalone=\"no\"?>\n")
        out.append("<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n")
        out.append("<svg version=\"1.1\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\"")
        out.append(" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\"")
        out.append(" data-xpad=\"\(fmt(xpad))\" data-inverted=\"\(options.inverted ? 1 : 0)\" data-fontsize=\"\(fmt(fontSize))\"")
        out.append(" data-total=\"\(total)\" data-count-name=\"")
        out.appendEscaped(countName)
        out.append("\" onload=\"init(evt)\">\n")
        out.append("<!-- Perch flame graph. Frames: \(visible.count) of \(graph.nodeName.count - 1); minimum width \(fmt(options.minWidth)) px. -->\n")
        out.append(style)
        out.append("<script type=\"text/ecmascript\"><![CDATA[\n")
        out.append(script)
        out.append("]]></script>\n")
        out.append("<rect x=\"0\" y=\"0\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" fill=\"url(#background)\"/>\n")
        out.append("<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">")
        out.append(graph.isDifferential
            ? "<stop stop-color=\"#f8f8f8\" offset=\"5%\"/><stop stop-color=\"#eeeeee\" offset=\"95%\"/>"
            : "<stop stop-color=\"#eeeeee\" offset=\"5%\"/><stop stop-color=\"#eeeeb0\" offset=\"95%\"/>")
        out.append("</linearGradient></defs>\n")
        var titleY = fontSize * 2
        out.append("<text id=\"title\" class=\"title\" x=\"\(fmt(width / 2))\" y=\"\(fmt(titleY))\">")
        out.appendEscaped(options.title ?? graph.defaultTitle ?? (options.inverted ? "Icicle Graph" : "Flame Graph"))
        out.append("</text>\n")
        if let subtitle = options.subtitle {
            titleY += fontSize * 1.5
            out.append("<text id=\"subtitle\" class=\"subtitle\" x=\"\(fmt(width / 2))\" y=\"\(fmt(titleY))\">")
            out.appendEscaped(subtitle)
            out.append("</text>\n")
        }
        if options.palette == .kind && !graph.isDifferential {
            titleY += fontSize * 1.5
            out.append("<text id=\"legend\" class=\"subtitle\" x=\"\(fmt(width / 2))\" y=\"\(fmt(titleY))\">")
            out.append("kernel: orange · native: red · Swift: purple · C++: yellow · JIT: green · inlined: aqua · unknown: grey</text>\n")
        }
        let bottom = height - fontSize / 2 - 4
        out.append("<text id=\"details\" x=\"\(fmt(xpad))\" y=\"\(fmt(bottom))\"> </text>\n")
        out.append("<text id=\"unzoom\" class=\"button hide\" x=\"\(fmt(xpad))\" y=\"\(fmt(fontSize * 2))\">Reset Zoom</text>\n")
        out.append("<text id=\"search\" class=\"button\" x=\"\(fmt(width - xpad - 100))\" y=\"\(fmt(fontSize * 2))\">Search</text>\n")
        out.append("<text id=\"matched\" x=\"\(fmt(width - xpad - 100))\" y=\"\(fmt(bottom))\"> </text>\n")

        // Differential colouring: the largest change sets full saturation.
        var maxDelta = 0.0
        if graph.isDifferential {
            for n in 1..<graph.nodeName.count {
                maxDelta = max(maxDelta, abs(Double(graph.nodeValue[n]) - graph.nodeBefore[n]))
            }
        }
        let totalD = Double(max(total, 1))
        out.append("<g id=\"frames\">\n")
        for node in visible {
            let n = Int(node)
            let nameId = Int(graph.nodeName[n])
            let name = graph.names[nameId]
            let value = graph.nodeValue[n]
            let w = Double(value) * perSample
            let fx = xpad + x[n]
            let fy = frameY(Int(graph.nodeDepth[n]))
            out.append("<g><title>")
            out.appendEscaped(name)
            out.append(" (")
            out.append(groupedDecimal(value))
            out.append(" ")
            out.appendEscaped(countName)
            out.append(", ")
            out.append(percentString(Double(value) * 100 / totalD))
            let colour: (Int, Int, Int)
            if graph.isDifferential {
                let delta = Double(value) - graph.nodeBefore[n]
                out.append("; ")
                out.append(delta >= 0 ? "+" : "-")
                out.append(percentString(abs(delta) * 100 / totalD))
                colour = diffColour(delta: delta, maxDelta: maxDelta)
            } else {
                colour = self.colour(name: name, kind: graph.kinds[nameId], palette: options.palette)
            }
            out.append(")</title><rect x=\"")
            out.append(fmt(fx))
            out.append("\" y=\"")
            out.append(fmt(fy))
            out.append("\" width=\"")
            out.append(fmt(w))
            out.append("\" height=\"")
            out.append(fmt(frameHeight - 1))
            out.append("\" fill=\"rgb(\(colour.0),\(colour.1),\(colour.2))\" rx=\"2\" ry=\"2\"/><text x=\"")
            out.append(fmt(fx + 3))
            out.append("\" y=\"")
            out.append(fmt(fy + frameHeight / 2 + fontSize / 2 - 2))
            out.append("\">")
            out.appendEscaped(label(name, width: w, fontSize: fontSize))
            out.append("</text></g>\n")
        }
        out.append("</g>\n</svg>\n")
        return out.bytes
    }

    /// The text that fits a frame `width` pixels wide (flamegraph.pl's 0.59 em per character).
    static func label(_ name: String, width: Double, fontSize: Double) -> String {
        let chars = Int(width / (fontSize * 0.59))
        if chars < 3 { return "" }
        if name.count <= chars { return name }
        return String(name.prefix(chars - 2)) + ".."
    }

    // MARK: Colours

    /// Three stable values in [0, 1) from the name (FNV-1a).
    static func hash(_ name: String) -> (Double, Double, Double) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 32
        return (Double(h & 0xffff) / 65536, Double((h >> 16) & 0xffff) / 65536, Double((h >> 32) & 0xffff) / 65536)
    }

    /// The fill of a frame: a function of the name (and kind) only.
    public static func colour(name: String, kind: FlameFrameKind, palette: FlamePalette) -> (Int, Int, Int) {
        let (v1, v2, v3) = hash(name)
        func c(_ base: Double, _ range: Double, _ v: Double) -> Int { Int(base + range * v) }
        switch palette {
        case .hot: return (c(205, 50, v3), c(0, 230, v1), c(0, 55, v2))
        case .mem: return (0, c(190, 50, v2), c(0, 210, v1))
        case .io: return (c(80, 60, v1), c(80, 60, v1), c(190, 55, v2))
        case .kind:
            switch kind {
            case .kernel: return (c(225, 30, v1), c(135, 45, v2), c(0, 50, v3))
            case .native: return (c(205, 50, v1), c(40, 80, v2), c(30, 40, v3))
            case .swift: return (c(150, 50, v1), c(90, 50, v2), c(200, 55, v3))
            case .cpp: return (c(200, 50, v1), c(190, 50, v2), c(30, 60, v3))
            case .jit: return (c(50, 60, v1), c(180, 60, v2), c(50, 60, v3))
            case .inlined: return (c(40, 60, v1), c(190, 50, v2), c(190, 50, v2))
            case .unknown: return (c(160, 40, v1), c(160, 40, v1), c(160, 40, v1))
            }
        }
    }

    /// Red where `delta` > 0 (grew), blue where it shrank, white-ish when unchanged.
    static func diffColour(delta: Double, maxDelta: Double) -> (Int, Int, Int) {
        guard maxDelta > 0, delta != 0 else { return (250, 250, 250) }
        let fade = Int(210 * (1 - min(1, abs(delta) / maxDelta)))
        return delta > 0 ? (255, fade, fade) : (fade, fade, 255)
    }

    // MARK: Number formatting

    /// Two decimals without trailing zeros: `12.5`, `3`, `0.07`.
    static func fmt(_ v: Double) -> String {
        let scaled = (abs(v) * 100 + 0.5)
        guard scaled < 9e15 else { return "\(v)" }
        let hundredths = Int(scaled)
        var s = (v < 0 && hundredths > 0 ? "-" : "") + String(hundredths / 100)
        let frac = hundredths % 100
        if frac != 0 {
            s += frac % 10 == 0 ? ".\(frac / 10)" : (frac < 10 ? ".0\(frac)" : ".\(frac)")
        }
        return s
    }

    static func percentString(_ p: Double) -> String { PercentFormat.string(p) }

    /// `1,234,567`.
    static func groupedDecimal(_ v: UInt64) -> String {
        let digits = Array(String(v))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    // MARK: Embedded CSS and JavaScript

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

/// A growing UTF-8 buffer for the SVG.
struct SVGBuffer {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1 << 16) }

    mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// XML-escaped text or attribute content.
    mutating func appendEscaped(_ s: String) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&apos;".utf8)
            case 0..<0x20 where b != 9 && b != 10 && b != 13: bytes.append(UInt8(ascii: "?"))
            default: bytes.append(b)
            }
        }
    }
}
