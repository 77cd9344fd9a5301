#include "engine/tensor.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <numeric>
#include <ostream>

#include "engine/autograd.h"
#include "engine/cuda_backend.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops_util.h"
#include "kernels/cpu/cast.h"
#include "kernels/cpu/strided.h"

namespace ember {

// ---- shape helpers ----------------------------------------------------------------------------------
std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape strides(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return strides;
}

namespace {

void check_shape(const Shape& shape, const char* op) {
  EMBER_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), op, ": at most ", kMaxDims, " dimensions, got ",
              shape_str(shape));
  for (int64_t d : shape) EMBER_CHECK(d >= 0, op, ": negative size in shape ", shape_str(shape));
}

}  // namespace

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// ---- creation ---------------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, Layout layout) {
  check_shape(shape, "Tensor::empty");
  if (layout == Layout::channels_last) {
    EMBER_CHECK(shape.size() == 4, "Tensor::empty: channels_last needs [N, C, H, W], got ", shape_str(shape));
    return empty({shape[0], shape[2], shape[3], shape[1]}, dtype, device).permute({0, 3, 1, 2});
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype, Device::cpu());
  EMBER_DISPATCH_ALL(dtype, "arange", {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = convert_value<scalar_t>(i);
  });
  return device.is_cpu() ? t : t.to(device);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  EMBER_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ", values.size(),
              " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>::value);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<bf16>&, const Shape&);

// ---- what it is -------------------------------------------------------------------------------------
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "Tensor::size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

bool Tensor::is_channels_last() const {
  if (dim() != 4 || is_contiguous()) return false;
  int64_t expected = 1;
  for (int64_t d : {1, 3, 2, 0}) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

Tensor Tensor::empty_like(const Tensor& t, DType dtype) {
  return empty(t.shape(), dtype, t.device(), t.dense_layout());
}

Tensor Tensor::dense() const { return is_contiguous() || is_channels_last() ? *this : contiguous(); }

Tensor Tensor::in_layout(Layout layout) const {
  if (layout == Layout::contiguous) return contiguous();
  if (is_channels_last()) return *this;
  EMBER_CHECK(dim() == 4, "in_layout: channels_last needs a 4-D tensor, got ", describe());
  Tensor out = empty(shape(), dtype(), device(), Layout::channels_last);
  if (out.is_contiguous()) return contiguous();  // dims of size 1: both layouts are the same
  out.copy_(*this);
  if (needs_grad({this})) {
    record(out, "in_layout", {*this}, [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
  }
  return out;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * static_cast<int64_t>(dtype_size(dtype()));
}

double Tensor::item() const {
  EMBER_CHECK(numel() == 1, "Tensor::item: needs one element, got ", describe());
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  double v = 0;
  EMBER_DISPATCH_ALL(dtype(), "item", { v = convert_value<double>(*host.data<scalar_t>()); });
  return v;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = (device().is_cpu() ? *this : to(Device::cpu())).contiguous();
  std::vector<T> out(static_cast<size_t>(numel()));
  EMBER_DISPATCH_ALL(dtype(), "to_vector", {
    const scalar_t* p = host.data<scalar_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = convert_value<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

// ---- views ------------------------------------------------------------------------------------------
namespace {

Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Tensor& t) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      EMBER_CHECK(infer_at < 0, op, ": more than one -1 in ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(shape[i] >= 0, op, ": bad size in ", shape_str(requested));
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, op, ": cannot view ", t.describe(), " as ", shape_str(requested));
    shape[infer_at] = numel / known;
  }
  EMBER_CHECK(shape_numel(shape) == numel, op, ": cannot view ", t.describe(), " (", numel, " elements) as ",
              shape_str(requested));
  return shape;
}

// Strides for viewing `t` as `shape` without a copy, or empty when the layout does not allow it
// (the algorithm of PyTorch's computeStride: match runs of dims that are contiguous among themselves).
Shape view_strides(const Tensor& t, const Shape& shape) {
  const Shape& old_shape = t.shape();
  const Shape& old_strides = t.strides();
  Shape strides(shape.size());
  if (t.numel() == 0 || old_shape.empty()) return contiguous_strides(shape);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return {};
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return {};
  return strides;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "view", *this);
  check_shape(shape, "view");
  Shape strides = view_strides(*this, shape);
  EMBER_CHECK(!strides.empty() || shape.empty(), "view: ", describe(), " with strides ", shape_str(this->strides()),
              " cannot be viewed as ", shape_str(shape), " without a copy; use reshape");
  Tensor out = make_view(*this, shape, strides, offset());
  if (needs_grad({this})) {
    record(out, "view", {*this},
           [in_shape = this->shape()](const Tensor& g) -> std::vector<Tensor> { return {g.reshape(in_shape)}; });
  }
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "reshape", *this);
  if (!view_strides(*this, shape).empty() || shape.empty()) return view(shape);
  return contiguous().view(shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  EMBER_CHECK(s <= e, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
  Shape shape(this->shape().begin(), this->shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= this->shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), this->shape().begin() + e + 1, this->shape().end());
  return reshape(shape);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for ", describe());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    EMBER_CHECK(inverse[d] == -1, "permute: dimension ", d, " repeated");
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = this->shape()[d];
    strides[i] = this->strides()[d];
  }
  Tensor out = make_view(*this, shape, strides, offset());
  if (needs_grad({this})) {
    record(out, "permute", {*this}, [inverse](const Tensor& g) -> std::vector<Tensor> { return {g.permute(inverse)}; });
  }
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> dims(static_cast<size_t>(dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(d0, dim(), "transpose")], dims[wrap_dim(d1, dim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  EMBER_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow: [", start, ", ", start + length,
              ") out of range for dimension ", d, " of ", describe());
  Shape shape = this->shape();
  shape[d] = length;
  Tensor out = make_view(*this, shape, strides(), offset() + start * strides()[d]);
  if (needs_grad({this})) {
    record(out, "narrow", {*this},
           [in_shape = this->shape(), d, start, length](const Tensor& g) -> std::vector<Tensor> {
             Tensor full = Tensor::zeros(in_shape, g.dtype(), g.device());
             full.narrow(d, start, length).copy_(g);
             return {full};
           });
  }
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t i = index < 0 ? index + shape()[d] : index;
  EMBER_CHECK(i >= 0 && i < shape()[d], "select: index ", index, " out of range for dimension ", d, " of ", describe());
  return narrow(d, i, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& requested) const {
  EMBER_CHECK(static_cast<int64_t>(requested.size()) >= dim(), "expand: ", describe(), " to fewer dims ",
              shape_str(requested));
  check_shape(requested, "expand");
  size_t lead = requested.size() - shape().size();
  Shape shape(requested.size()), strides(requested.size());
  for (size_t i = 0; i < requested.size(); ++i) {
    if (i < lead) {
      shape[i] = requested[i];
      strides[i] = 0;
      continue;
    }
    int64_t have = this->shape()[i - lead];
    int64_t want = requested[i] == -1 ? have : requested[i];
    EMBER_CHECK(have == want || have == 1, "expand: ", describe(), " cannot broadcast to ", shape_str(requested));
    shape[i] = want;
    strides[i] = (have == want) ? this->strides()[i - lead] : 0;
  }
  if (shape == this->shape()) return *this;
  Tensor out = make_view(*this, shape, strides, offset());
  if (needs_grad({this})) {
    record(out, "expand", {*this},
           [in_shape = this->shape()](const Tensor& g) -> std::vector<Tensor> { return {sum_to(g, in_shape)}; });
  }
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shape = this->shape();
  shape.insert(shape.begin() + d, 1);
  return view(shape);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape shape = this->shape();
  shape.erase(shape.begin() + d);
  return view(shape);
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

// ---- copies -----------------------------------------------------------------------------------------
Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  out.copy_(*this);
  if (needs_grad({this})) {
    record(out, "clone", {*this}, [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty_like(*this, target);
  out.copy_(*this);
  if (needs_grad({this}) && is_floating(target)) {
    record(out, "to_dtype", {*this},
           [source = dtype()](const Tensor& g) -> std::vector<Tensor> { return {g.to(source)}; });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = Tensor::empty(shape(), dtype(), target);
  out.copy_(*this);
  if (needs_grad({this})) {
    record(out, "to_device", {*this},
           [source = device()](const Tensor& g) -> std::vector<Tensor> { return {g.to(source)}; });
  }
  return out;
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

void Tensor::copy_(const Tensor& src) {
  Tensor s = src.shape() == shape() ? src : src.expand(shape()).detach();
  if (device().is_cpu() && s.device().is_cpu()) {
    // The casts of bf16 activations: same dense layout on both sides, one vectorised pass.
    const bool same_dense = s.strides() == strides() && (is_contiguous() || is_channels_last());
    if (same_dense && s.dtype() == DType::f32 && dtype() == DType::bf16)
      return kernels::cpu::cast_f32_to_bf16(s.data<float>(), reinterpret_cast<uint16_t*>(raw_data()), numel());
    if (same_dense && s.dtype() == DType::bf16 && dtype() == DType::f32)
      return kernels::cpu::cast_bf16_to_f32(reinterpret_cast<const uint16_t*>(s.raw_data()), data<float>(), numel());
    EMBER_DISPATCH_ALL(s.dtype(), "copy_", {
      using src_t = scalar_t;
      const src_t* sp = s.data<src_t>();
      EMBER_DISPATCH_ALL(dtype(), "copy_", {
        kernels::cpu::strided_copy(sp, s.strides().data(), data<scalar_t>(), strides().data(), static_cast<int>(dim()),
                                   shape().data(), [](src_t v) { return convert_value<scalar_t>(v); });
      });
    });
    return;
  }
  EMBER_CUDA("copy_", cuda::copy(s, *this));
}

void Tensor::fill_(double value) {
  if (device().is_cpu()) {
    EMBER_DISPATCH_ALL(dtype(), "fill_", {
      const scalar_t v = convert_value<scalar_t>(value);
      scalar_t* base = data<scalar_t>();
      const int64_t step = dim() ? strides().back() : 1;
      kernels::cpu::for_each_row<1>(static_cast<int>(dim()), shape().data(), {strides().data()},
                                    [&](const std::array<int64_t, 1>& off, int64_t n) {
                                      for (int64_t i = 0; i < n; ++i) base[off[0] + i * step] = v;
                                    });
    });
    return;
  }
  EMBER_CUDA("fill_", cuda::fill(*this, value));
}

// ---- autograd ---------------------------------------------------------------------------------------
Tensor& Tensor::requires_grad_(bool on) {
  EMBER_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require grad, got ", describe());
  EMBER_CHECK(is_leaf() || on, "requires_grad_: cannot turn off grad on a non-leaf tensor; use detach()");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  if (!g.defined()) {
    impl().grad.reset();
    return;
  }
  EMBER_CHECK(g.shape() == shape(), "set_grad: gradient ", g.describe(), " for ", describe());
  impl().grad = g.impl_ptr();
}

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::backward(const Tensor& grad_output) const {
  Tensor g = grad_output;
  if (!g.defined()) {
    EMBER_CHECK(numel() == 1, "backward: implicit gradient needs a one-element tensor, got ", describe(),
                "; pass a gradient");
    g = Tensor::ones(shape(), dtype(), device());
  }
  run_backward(*this, g);
}

void Tensor::register_grad_ready_hook(GradHook hook) {
  EMBER_CHECK(is_leaf() && requires_grad(), "register_grad_ready_hook: only on leaves that require grad");
  impl().grad_ready_hooks.push_back(std::move(hook));
}

Tensor Tensor::operator-() const { return neg(*this); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add_scalar(a, b); }
Tensor operator-(const Tensor& a, double b) { return add_scalar(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul_scalar(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul_scalar(a, 1.0 / b); }
Tensor operator*(double a, const Tensor& b) { return mul_scalar(b, a); }

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "Tensor(undefined)";
  os << "Tensor(" << t.describe();
  if (t.numel() <= 64) {
    std::vector<double> v = t.to_vector<double>();
    os << ", [";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
    os << "]";
  }
  return os << ")";
}

}  // namespace ember
