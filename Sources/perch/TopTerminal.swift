import CPerfEvent
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The full-screen terminal of `perch top`: keys one at a time without echo, the alternate
/// screen, the window's size. ``restore()`` puts everything back; it also runs from the C
/// handlers of fatal signals (``perch_terminal_restore``), and the stop handler turns Ctrl-C and
/// SIGTERM into an ordinary end of the view, after which the caller restores.
final class TopTerminal {
    /// A key the view acts on.
    enum Key: Equatable {
        case character(Character)
        case up, down, pageUp, pageDown, enter, escape, backspace
    }

    private let input: Int32 = 0
    private let output: Int32 = 1
    private var pending: [UInt8] = []
    private var resizes = perch_terminal_resized()

    /// Switches the terminal on standard output; nil when it is not one.
    init?() {
        guard isatty(0) != 0, isatty(1) != 0 else { return nil }
        perch_terminal_install_handlers()
        guard perch_terminal_enter(output) == 0 else { return nil }
    }

    deinit { restore() }

    /// Leaves the alternate screen and the raw mode (again: harmless).
    func restore() {
        perch_terminal_restore()
    }

    /// Rows and columns (24×80 when the terminal does not say).
    var size: (rows: Int, columns: Int) {
        var window = winsize()
        guard ioctl(output, UInt(TIOCGWINSZ), &window) == 0, window.ws_row > 0, window.ws_col > 0 else { return (24, 80) }
        return (Int(window.ws_row), Int(window.ws_col))
    }

    /// Whether a SIGWINCH came since the last call.
    func takeResize() -> Bool {
        let now = perch_terminal_resized()
        defer { resizes = now }
        return now != resizes
    }

    /// The keys typed since the last call (never waits).
    func readKeys() -> [Key] {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(input, &buffer, buffer.count)
            guard count > 0 else { break }
            pending += buffer.prefix(count)
        }
        var keys: [Key] = []
        var index = 0
        while index < pending.count {
            let byte = pending[index]
            if byte == 0x1B {
                // ESC [ A/B/5~/6~; a lone ESC is Escape.
                if index + 2 < pending.count, pending[index + 1] == UInt8(ascii: "[") || pending[index + 1] == UInt8(ascii: "O") {
                    let final = pending[index + 2]
                    switch final {
                    case UInt8(ascii: "A"): keys.append(.up); index += 3; continue
                    case UInt8(ascii: "B"): keys.append(.down); index += 3; continue
                    case UInt8(ascii: "5"), UInt8(ascii: "6"):
                        keys.append(final == UInt8(ascii: "5") ? .pageUp : .pageDown)
                        index += index + 3 < pending.count && pending[index + 3] == UInt8(ascii: "~") ? 4 : 3
                        continue
                    default: index += 3; continue  // other sequences: ignored
                    }
                }
                keys.append(.escape)
            } else if byte == 13 || byte == 10 {
                keys.append(.enter)
            } else if byte == 127 || byte == 8 {
                keys.append(.backspace)
            } else if byte >= 0x20 && byte < 0x7F {
                keys.append(.character(Character(UnicodeScalar(byte))))
            }
            index += 1
        }
        pending.removeAll()
        return keys
    }

    /// Draws `lines` from the top left, each cleared to its end, and clears below them.
    func draw(_ lines: [String]) {
        var text = "\u{1B}[H"
        for (index, line) in lines.enumerated() {
            text += line + "\u{1B}[0m\u{1B}[K" + (index == lines.count - 1 ? "" : "\r\n")
        }
        text += "\u{1B}[J"
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { try? writeAll(output, UnsafeRawBufferPointer($0)) }
    }
}
