import CPerfEvent

/// Huge pages for the heap of a command that reads a recording or a binary and exits.
///
/// Such a command fills tens of megabytes of fresh heap (DWARF scopes and line tables, names,
/// profile nodes). In a VM each first touch of a 4 KiB page is a fault that costs microseconds:
/// symbolizing 20,000 addresses in a Swift binary spent about a tenth of its time there.
/// With transparent huge pages in "madvise" mode (Debian's default) the heap gets 2 MiB pages
/// only when advised, which glibc does only when `GLIBC_TUNABLES` asks it to at startup, so
/// Perch does the same itself: the heap grows in 64 MiB steps and the first is advised. Where
/// huge pages are off ("never") or unavailable this changes nothing but the malloc settings.
///
/// Not for `record`, `top`, `stat` or `serve`: they run for as long as the user wants, and
/// keep freed memory they would otherwise return.
enum HeapPages {
    /// Call at the start of the command's `run()`.
    static func preferHuge() {
        _ = perch_heap_prefer_huge_pages(64 << 20)
    }
}
