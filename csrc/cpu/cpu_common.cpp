#include "cpu_common.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace nasops::cpu {
namespace {

int64_t page_bytes() {
#if defined(__linux__)
  static const auto size = static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  return size;
#else
  return 4096;
#endif
}

// Whether the page holding `p` is mapped and backed already.
bool page_resident(const void* p) {
#if defined(__linux__)
  const auto mask = static_cast<uintptr_t>(page_bytes() - 1);
  const uintptr_t page = reinterpret_cast<uintptr_t>(p) & ~mask;
  unsigned char resident = 0;
  return mincore(reinterpret_cast<void*>(page), 1, &resident) == 0 && (resident & 1) != 0;
#else
  return true;
#endif
}

// One store into every page of [begin, begin + bytes), in parallel; only bytes of the output
// are written, never the allocator's header on the first page.
void map_pages(char* begin, int64_t bytes) {
  const int64_t page = page_bytes();
  const auto first_boundary = static_cast<int64_t>(
      (reinterpret_cast<uintptr_t>(begin) + static_cast<uintptr_t>(page) - 1) &
      ~static_cast<uintptr_t>(page - 1));
  const int64_t head = first_boundary - static_cast<int64_t>(reinterpret_cast<uintptr_t>(begin));
  begin[0] = 0;
  const int64_t pages = (bytes - head + page - 1) / page;
  at::parallel_for(0, pages, kGrain / 16, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) {
      begin[head + i * page] = 0;
    }
  });
}

}  // namespace

void map_fresh_pages(void* out, int64_t bytes) {
  char* begin = static_cast<char*>(out);
  if (bytes >= kLargeBytes && !page_resident(begin + bytes / 2)) {
    map_pages(begin, bytes);
  }
}

at::Tensor combine_partials(
    const std::vector<double>& partials,
    int64_t chunks,
    int64_t k,
    double scale,
    const at::TensorOptions& options) {
  at::Tensor total = at::empty({k}, options.dtype(at::kDouble));
  double* out = total.data_ptr<double>();
  for (int64_t i = 0; i < k; ++i) {
    double sum = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      sum += partials[static_cast<size_t>(c * k + i)];
    }
    out[i] = sum * scale;
  }
  return total.to(options.dtype());
}

}  // namespace nasops::cpu
