// Errors: every failure is an ember::Error whose message names the op and the shapes/dtypes involved.
// In base/, the bottom layer: kernels, engine and everything above throw the same type.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ember {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <class T, class... Rest>
void stream_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  stream_all(os, rest...);
}
}  // namespace detail

// Builds a message from any streamable pieces: EMBER_FAIL("matmul: ", a.shape(), " vs ", b.shape()).
template <class... Args>
std::string format_message(const Args&... args) {
  std::ostringstream os;
  detail::stream_all(os, args...);
  return os.str();
}

}  // namespace ember

#define EMBER_FAIL(...) throw ::ember::Error(::ember::format_message(__VA_ARGS__))
#define EMBER_CHECK(cond, ...)            \
  do {                                    \
    if (!(cond)) EMBER_FAIL(__VA_ARGS__); \
  } while (0)
