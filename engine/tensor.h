// Tensor: a view (shape, strides, offset, dtype) on a reference-counted Storage, plus autograd state.
//
//   element [i0, i1, ..., ik] lives at byte  (offset + sum_j i_j * strides[j]) * dtype_size(dtype)
//
// Strides and offset count elements, not bytes. A contiguous tensor has strides[k-1] = 1 and
// strides[j] = strides[j+1] * shape[j+1]. Views (reshape of a contiguous tensor, permute, narrow, expand)
// share the Storage; expand gives stride 0 on broadcast dimensions.
//
// Copying a Tensor copies a handle: both refer to the same TensorImpl (like torch.Tensor in Python).
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/storage.h"

namespace ember {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

class Tensor;
class Node;
using GradHook = std::function<void(const Tensor& param)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;

  // Autograd. A leaf that requires grad accumulates into `grad`; a non-leaf has `grad_fn`.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;
  std::vector<GradHook> grad_ready_hooks;  // fired once per backward() when this leaf's grad is final
};

// Memory layouts of dense activations. channels_last: a 4-D [N, C, H, W] stored as [N, H, W, C], the layout of
// the bf16 convolutions on CUDA (docs/architecture.md).
enum class Layout { contiguous, channels_last };

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation -------------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(),
                      Layout layout = Layout::contiguous);  // channels_last: shape [N, C, H, W]
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::i64, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  // Uninitialised, of t's shape, device and dense_layout().
  static Tensor empty_like(const Tensor& t, DType dtype);
  // Copies host values into a new CPU tensor of the given shape (numel must match).
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

  // ---- what it is ------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  // Layouts (Layout above); ops on activations keep theirs. is_channels_last: stored [N, H, W, C] and not
  // also contiguous (dims of size 1 do not count). dense_layout: channels_last when it is, else contiguous.
  // dense(): this tensor when contiguous or channels_last, else a contiguous copy. in_layout(l): this tensor
  // in layout l, a copy where it is not already (differentiable).
  bool is_channels_last() const;
  Layout dense_layout() const { return is_channels_last() ? Layout::channels_last : Layout::contiguous; }
  Tensor dense() const;
  Tensor in_layout(Layout layout) const;
  std::string describe() const;  // "f32[2, 3] on cpu", for error messages

  // Pointer to element [0, ..., 0]. data<T>() checks that T matches the dtype.
  void* raw_data() const;
  template <class T>
  T* data() const {
    EMBER_CHECK(dtype_of<T>::value == dtype(), "Tensor::data: asked for ", dtype_name(dtype_of<T>::value),
                " but tensor is ", describe());
    return static_cast<T*>(raw_data());
  }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Value of a one-element tensor as double (reads back from the GPU if needed).
  double item() const;
  // All values as a host vector of T (converting from the tensor's dtype), in logical row-major order.
  template <class T>
  std::vector<T> to_vector() const;

  // ---- views (no copy; recorded by autograd) ---------------------------------------------------------
  Tensor view(const Shape& shape) const;     // needs a compatible layout; -1 infers one dimension
  Tensor reshape(const Shape& shape) const;  // view when possible, else a contiguous copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // narrow + drop the dimension
  Tensor expand(const Shape& shape) const;          // broadcast: size-1 dims become stride 0
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor contiguous() const;  // itself when already contiguous

  // ---- copies ----------------------------------------------------------------------------------------
  Tensor clone() const;
  Tensor to(DType dtype) const;    // differentiable between floating dtypes
  Tensor to(Device device) const;  // differentiable
  Tensor detach() const;           // same storage, no autograd history
  // In-place, no autograd: copies src (broadcast to this shape, any dtype/layout) into this tensor.
  void copy_(const Tensor& src);
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- autograd --------------------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const;  // undefined until a backward reached it
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the gradient (like set_to_none)
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Reverse-mode differentiation from this tensor. With no argument it must hold one element.
  void backward(const Tensor& grad_output = Tensor()) const;
  // A leaf's hook runs once per backward(), right after its gradient is final (all uses accumulated).
  void register_grad_ready_hook(GradHook hook);

  // ---- operators (see engine/ops.h for the full set) -------------------------------------------------
  Tensor operator-() const;

  TensorImpl& impl() const {
    EMBER_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A view sharing `base`'s storage with the given geometry (no checks beyond bounds; no autograd).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

// Tensors by name, in order: a state_dict, a checkpoint's contents.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

}  // namespace ember
