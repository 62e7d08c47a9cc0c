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
}
