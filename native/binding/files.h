// What the other bindings use of files.cpp (the mmapFile mappings).
#pragma once
#include <cstddef>

namespace tl::binding {

// Copies [p, p + n) of a file mapped by mmapFile into dst with pread, without touching the
// mapping's pages (see files.cpp, "Sparse reads"). False when p .. p + n is not inside a file
// mapping, the path no longer names its file, or the read fails: the caller then reads the memory
// itself (dst may hold part of the bytes).
bool read_file_mapped(const void* p, size_t n, void* dst);

}  // namespace tl::binding
