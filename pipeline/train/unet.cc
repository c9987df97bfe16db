#include "pipeline/train/unet.h"

#include <utility>

#include "pipeline/train/optim.h"
#include "pipeline/train/trace.h"

namespace petprep {

UNet::UNet(UNetConfig config, Backend* backend) : config_(std::move(config)), backend_(backend) {
  const std::vector<int>& w = config_.widths;
  const int levels = static_cast<int>(w.size());
  // bias_channels 0: no bias.
  auto conv = [](Conv& c, const std::string& name, Shape shape, int bias_channels) {
    c.name = name;
    c.shape = shape;
    c.bias = bias_channels > 0;
    c.bias_shape = Shape{bias_channels, 1, 1, 1};
  };
  auto bn = [](Bn& b, const std::string& name, int c) {
    b.name = name;
    b.channels = c;
  };
  auto block = [&](Block& b, const std::string& name, int ci, int co) {
    b.name = name;
    conv(b.c1, name + ".conv1", {co, ci, 3, 3}, 0);
    bn(b.b1, name + ".bn1", co);
    conv(b.c2, name + ".conv2", {co, co, 3, 3}, 0);
    bn(b.b2, name + ".bn2", co);
  };
  enc_.resize(levels);
  for (int i = 0; i < levels; ++i) {
    block(enc_[i], "enc" + std::to_string(i + 1), i == 0 ? config_.in_channels : w[i - 1], w[i]);
  }
  dec_.resize(levels - 1);
  up_.resize(levels - 1);
  for (int i = levels - 2; i >= 0; --i) {
    conv(up_[i].t, "up" + std::to_string(i + 1), {w[i + 1], w[i], 2, 2}, w[i]);  // (Ci, Co, 2, 2)
    block(dec_[i], "dec" + std::to_string(i + 1), 2 * w[i], w[i]);
  }
  conv(head_, "head", {config_.classes, w[0], 1, 1}, config_.classes);
  pooled_.resize(levels - 1);
  argmax_.resize(levels - 1);
  dskip_.resize(levels);
}

// Every parameter in layer order: f(name, parameter, its gradient, its shape).
template <typename Net, typename F>
void VisitParams(Net& net, F f) {
  auto conv = [&](auto& c) {
    f(c.name + ".weight", c.w, c.dw, c.shape);
    if (c.bias) f(c.name + ".bias", c.b, c.db, c.bias_shape);
  };
  auto bn = [&](auto& b) {
    const Shape s{b.channels, 1, 1, 1};
    f(b.name + ".weight", b.gamma, b.dgamma, s);
    f(b.name + ".bias", b.beta, b.dbeta, s);
  };
  auto block = [&](auto& b) {
    conv(b.c1);
    bn(b.b1);
    conv(b.c2);
    bn(b.b2);
  };
  for (auto& b : net.enc_) block(b);
  for (int i = static_cast<int>(net.up_.size()) - 1; i >= 0; --i) {
    conv(net.up_[i].t);
    block(net.dec_[i]);
  }
  conv(net.head_);
}

// Every BatchNorm running statistic in layer order: f(name, tensor, shape).
template <typename Net, typename F>
void VisitBuffers(Net& net, F f) {
  auto block = [&](auto& b) {
    for (auto* bn : {&b.b1, &b.b2}) {
      const Shape s{bn->channels, 1, 1, 1};
      f(bn->name + ".running_mean", bn->mean, s);
      f(bn->name + ".running_var", bn->var, s);
    }
  };
  for (auto& b : net.enc_) block(b);
  for (int i = static_cast<int>(net.up_.size()) - 1; i >= 0; --i) block(net.dec_[i]);
}

std::vector<DeviceTensor*> UNet::Params() {
  std::vector<DeviceTensor*> p;
  VisitParams(*this, [&](const std::string&, DeviceTensor& w, DeviceTensor&, const Shape&) {
    p.push_back(&w);
  });
  return p;
}

std::vector<const DeviceTensor*> UNet::Grads() const {
  std::vector<const DeviceTensor*> p;
  VisitParams(*this, [&](const std::string&, const DeviceTensor&, const DeviceTensor& g,
                         const Shape&) { p.push_back(&g); });
  return p;
}

std::vector<std::string> UNet::ParamNames() const {
  std::vector<std::string> p;
  VisitParams(*this, [&](const std::string& name, const DeviceTensor&, const DeviceTensor&,
                         const Shape&) { p.push_back(name); });
  return p;
}

std::vector<Shape> UNet::ParamShapes() const {
  std::vector<Shape> p;
  VisitParams(*this, [&](const std::string&, const DeviceTensor&, const DeviceTensor&,
                         const Shape& s) { p.push_back(s); });
  return p;
}

std::vector<DeviceTensor*> UNet::Buffers() {
  std::vector<DeviceTensor*> p;
  VisitBuffers(*this, [&](const std::string&, DeviceTensor& t, const Shape&) { p.push_back(&t); });
  return p;
}

std::vector<std::string> UNet::BufferNames() const {
  std::vector<std::string> p;
  VisitBuffers(*this, [&](const std::string& name, const DeviceTensor&, const Shape&) {
    p.push_back(name);
  });
  return p;
}

std::vector<Shape> UNet::BufferShapes() const {
  std::vector<Shape> p;
  VisitBuffers(*this,
               [&](const std::string&, const DeviceTensor&, const Shape& s) { p.push_back(s); });
  return p;
}

Status UNet::CheckInputSide(int64_t side) const {
  const int64_t step = int64_t{1} << (config_.widths.empty() ? 0 : config_.widths.size() - 1);
  if (side < step || side > kMaxInputSide || side % step != 0) {
    return Status::InvalidArgument("image size " + std::to_string(side) + " does not fit a " +
                                   std::to_string(config_.widths.size()) +
                                   "-level U-Net (a multiple of " + std::to_string(step) +
                                   " from " + std::to_string(step) + " to " +
                                   std::to_string(kMaxInputSide) + ")");
  }
  return Status::Ok();
}

size_t UNet::ParamCount() const {
  size_t n = 0;
  for (const Shape& s : ParamShapes()) n += static_cast<size_t>(s.size());
  return n;
}

Status UNet::Init(uint64_t seed) {
  std::vector<std::string> names = ParamNames();
  std::vector<Shape> shapes = ParamShapes();
  std::vector<Tensor> params(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    Tensor& t = params[i];
    const Shape& s = shapes[i];
    t.Resize(s.n, s.c, s.h, s.w);
    const std::string& name = names[i];
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool is_bn = name.find(".bn") != std::string::npos;
    if (is_bn) {
      for (size_t e = 0; e < t.size(); ++e) t[e] = is_bias ? 0.0f : 1.0f;
    } else if (!is_bias) {
      // Conv (Co, Ci, k, k): fan_in = Ci k k. Transposed (Ci, Co, 2, 2): PyTorch's fan_in is
      // dim 1 times the taps, Co * 4.
      HeUniform(&t, t.c() * t.h() * t.w(), seed, static_cast<uint32_t>(i));
    }
  }
  std::vector<Tensor> buffers;
  VisitBuffers(*this, [&](const std::string&, DeviceTensor&, const Shape& s) {
    Tensor t(s.n, s.c, s.h, s.w);  // mean, var, mean, var, ...
    if (buffers.size() % 2 == 1) {
      for (size_t e = 0; e < t.size(); ++e) t[e] = 1.0f;
    }
    buffers.push_back(std::move(t));
  });
  return WriteParams(params, buffers);
}

Status UNet::WriteParams(const std::vector<Tensor>& params, const std::vector<Tensor>& buffers) {
  std::vector<DeviceTensor*> p = Params(), b = Buffers();
  std::vector<std::string> pn = ParamNames(), bn = BufferNames();
  std::vector<Shape> ps = ParamShapes(), bs;
  VisitBuffers(*this, [&](const std::string&, DeviceTensor&, const Shape& s) { bs.push_back(s); });
  if (params.size() != p.size() || buffers.size() != b.size()) {
    return Status::InvalidArgument(std::to_string(params.size()) + " parameters and " +
                                   std::to_string(buffers.size()) +
                                   " statistics given, the model has " + std::to_string(p.size()) +
                                   " and " + std::to_string(b.size()));
  }
  for (size_t i = 0; i < p.size(); ++i) {
    const Tensor& t = params[i];
    if (Shape{t.n(), t.c(), t.h(), t.w()} != ps[i]) {
      return Status::InvalidArgument(pn[i] + " is " + t.ShapeString() + ", the model's is " +
                                     ps[i].ToString());
    }
    PETPREP_RETURN_IF_ERROR(backend_->Upload(t, p[i]));
  }
  for (size_t i = 0; i < b.size(); ++i) {
    const Tensor& t = buffers[i];
    if (Shape{t.n(), t.c(), t.h(), t.w()} != bs[i]) {
      return Status::InvalidArgument(bn[i] + " is " + t.ShapeString() + ", the model's is " +
                                     bs[i].ToString());
    }
    PETPREP_RETURN_IF_ERROR(backend_->Upload(t, b[i]));
  }
  return Status::Ok();
}

Status UNet::ReadParams(std::vector<Tensor>* params, std::vector<Tensor>* buffers) {
  std::vector<DeviceTensor*> p = Params(), b = Buffers();
  params->resize(p.size());
  buffers->resize(b.size());
  for (size_t i = 0; i < p.size(); ++i)
    PETPREP_RETURN_IF_ERROR(backend_->Download(*p[i], &(*params)[i]));
  for (size_t i = 0; i < b.size(); ++i)
    PETPREP_RETURN_IF_ERROR(backend_->Download(*b[i], &(*buffers)[i]));
  return Status::Ok();
}

Result<Sha256Digest> UNet::WeightsDigest() {
  std::vector<Tensor> params, buffers;
  PETPREP_RETURN_IF_ERROR(ReadParams(&params, &buffers));
  Sha256 h;
  for (const Tensor& t : params) HashTensor(t, &h);
  for (const Tensor& t : buffers) HashTensor(t, &h);
  return h.Finish();
}

bool UNet::Tracing() const { return trace_ != nullptr && trace_->active(); }

Status UNet::Note(const std::string& op, const char* kind, DeviceTensor* t) {
  return Tracing() ? trace_->Note(op, kind, t) : Status::Ok();
}

Status UNet::BlockForward(Block& b, const DeviceTensor& x, bool train) {
  Backend& be = *backend_;
  b.in = &x;
  PETPREP_RETURN_IF_ERROR(be.Conv3x3Forward(*b.in, b.c1.w, nullptr, &b.a1));
  PETPREP_RETURN_IF_ERROR(Note(b.c1.name, "forward", &b.a1));
  if (train) {
    PETPREP_RETURN_IF_ERROR(be.BatchNormForwardTrain(b.a1, b.b1.gamma, b.b1.beta, &b.b1.mean,
                                                     &b.b1.var, &b.bn_out, &b.b1.saved));
  } else {
    PETPREP_RETURN_IF_ERROR(
        be.BatchNormForwardEval(b.a1, b.b1.gamma, b.b1.beta, b.b1.mean, b.b1.var, &b.bn_out));
  }
  PETPREP_RETURN_IF_ERROR(Note(b.b1.name, "forward", &b.bn_out));
  PETPREP_RETURN_IF_ERROR(be.ReluForward(b.bn_out, &b.r1));
  PETPREP_RETURN_IF_ERROR(Note(b.name + ".relu1", "forward", &b.r1));
  PETPREP_RETURN_IF_ERROR(be.Conv3x3Forward(b.r1, b.c2.w, nullptr, &b.a2));
  PETPREP_RETURN_IF_ERROR(Note(b.c2.name, "forward", &b.a2));
  if (train) {
    PETPREP_RETURN_IF_ERROR(be.BatchNormForwardTrain(b.a2, b.b2.gamma, b.b2.beta, &b.b2.mean,
                                                     &b.b2.var, &b.bn_out, &b.b2.saved));
  } else {
    PETPREP_RETURN_IF_ERROR(
        be.BatchNormForwardEval(b.a2, b.b2.gamma, b.b2.beta, b.b2.mean, b.b2.var, &b.bn_out));
  }
  PETPREP_RETURN_IF_ERROR(Note(b.b2.name, "forward", &b.bn_out));
  PETPREP_RETURN_IF_ERROR(be.ReluForward(b.bn_out, &b.out));
  return Note(b.name + ".relu2", "forward", &b.out);
}

Status UNet::BlockBackward(Block& b, const DeviceTensor& dout, DeviceTensor* din) {
  Backend& be = *backend_;
  PETPREP_RETURN_IF_ERROR(be.ReluBackward(b.out, dout, &b.d));
  PETPREP_RETURN_IF_ERROR(Note(b.name + ".relu2", "backward", &b.d));
  PETPREP_RETURN_IF_ERROR(
      be.BatchNormBackward(b.d, b.b2.gamma, b.b2.saved, &b.dbn, &b.b2.dgamma, &b.b2.dbeta));
  PETPREP_RETURN_IF_ERROR(Note(b.b2.name, "backward", &b.dbn));
  PETPREP_RETURN_IF_ERROR(be.Conv3x3Backward(b.r1, b.c2.w, b.dbn, &b.d, &b.c2.dw, nullptr));
  PETPREP_RETURN_IF_ERROR(Note(b.c2.name, "backward", &b.d));
  PETPREP_RETURN_IF_ERROR(be.ReluBackward(b.r1, b.d, &b.d));
  PETPREP_RETURN_IF_ERROR(Note(b.name + ".relu1", "backward", &b.d));
  PETPREP_RETURN_IF_ERROR(
      be.BatchNormBackward(b.d, b.b1.gamma, b.b1.saved, &b.dbn, &b.b1.dgamma, &b.b1.dbeta));
  PETPREP_RETURN_IF_ERROR(Note(b.b1.name, "backward", &b.dbn));
  PETPREP_RETURN_IF_ERROR(be.Conv3x3Backward(*b.in, b.c1.w, b.dbn, din, &b.c1.dw, nullptr));
  return din != nullptr ? Note(b.c1.name, "backward", din) : Status::Ok();
}

Status UNet::Forward(const DeviceTensor& x, bool train, uint64_t seed, uint64_t step,
                     const DeviceTensor** logits) {
  Backend& be = *backend_;
  const int levels = static_cast<int>(enc_.size());
  PETPREP_RETURN_IF_ERROR(BlockForward(enc_[0], x, train));
  for (int i = 1; i < levels; ++i) {
    PETPREP_RETURN_IF_ERROR(be.MaxPoolForward(enc_[i - 1].out, &pooled_[i - 1], &argmax_[i - 1]));
    PETPREP_RETURN_IF_ERROR(Note("pool" + std::to_string(i), "forward", &pooled_[i - 1]));
    PETPREP_RETURN_IF_ERROR(BlockForward(enc_[i], pooled_[i - 1], train));
  }
  const DeviceTensor* y = &enc_[levels - 1].out;
  dropout_used_ = train ? config_.dropout : 0.0f;
  if (dropout_used_ > 0.0f) {
    PETPREP_RETURN_IF_ERROR(be.DropoutForward(*y, dropout_used_, seed, step, 0, &dropped_, &keep_));
    PETPREP_RETURN_IF_ERROR(Note("dropout", "forward", &dropped_));
    y = &dropped_;
  }
  for (int i = levels - 2; i >= 0; --i) {
    Up& u = up_[i];
    u.in = y;
    PETPREP_RETURN_IF_ERROR(be.ConvT2x2Forward(*u.in, u.t.w, &u.t.b, &u.up));
    PETPREP_RETURN_IF_ERROR(Note(u.t.name, "forward", &u.up));
    PETPREP_RETURN_IF_ERROR(be.ConcatForward(u.up, enc_[i].out, &u.cat));
    PETPREP_RETURN_IF_ERROR(Note("cat" + std::to_string(i + 1), "forward", &u.cat));
    PETPREP_RETURN_IF_ERROR(BlockForward(dec_[i], u.cat, train));
    y = &dec_[i].out;
  }
  PETPREP_RETURN_IF_ERROR(be.Conv1x1Forward(*y, head_.w, &head_.b, &logits_));
  PETPREP_RETURN_IF_ERROR(Note(head_.name, "forward", &logits_));
  *logits = &logits_;
  return Status::Ok();
}

Status UNet::Backward(const DeviceTensor& dlogits) {
  Backend& be = *backend_;
  const int levels = static_cast<int>(enc_.size());
  PETPREP_RETURN_IF_ERROR(be.Conv1x1Backward(levels > 1 ? dec_[0].out : enc_[0].out, head_.w,
                                             dlogits, &d_, &head_.dw, &head_.db));
  PETPREP_RETURN_IF_ERROR(Note(head_.name, "backward", &d_));
  // dskip_[i]: the gradient reaching encoder level i's output through its skip connection.
  for (int i = 0; i <= levels - 2; ++i) {
    Up& u = up_[i];
    PETPREP_RETURN_IF_ERROR(BlockBackward(dec_[i], d_, &u.dcat));
    PETPREP_RETURN_IF_ERROR(be.ConcatBackward(u.dcat, u.up.c(), &u.dup, &dskip_[i]));
    PETPREP_RETURN_IF_ERROR(Note("cat" + std::to_string(i + 1), "backward", &u.dup));
    PETPREP_RETURN_IF_ERROR(be.ConvT2x2Backward(*u.in, u.t.w, u.dup, &d_, &u.t.dw, &u.t.db));
    PETPREP_RETURN_IF_ERROR(Note(u.t.name, "backward", &d_));
  }
  if (dropout_used_ > 0.0f) {
    PETPREP_RETURN_IF_ERROR(be.DropoutBackward(d_, dropout_used_, keep_, &d_));
    PETPREP_RETURN_IF_ERROR(Note("dropout", "backward", &d_));
  }
  for (int i = levels - 1; i >= 0; --i) {
    // d_ holds the gradient from the level below (through the pool); add the skip's.
    if (i < levels - 1) {
      PETPREP_RETURN_IF_ERROR(be.Add(dskip_[i], d_, &d_));
      PETPREP_RETURN_IF_ERROR(Note("skip" + std::to_string(i + 1), "backward", &d_));
    }
    PETPREP_RETURN_IF_ERROR(BlockBackward(enc_[i], d_, i > 0 ? &din_ : nullptr));
    if (i > 0) {
      PETPREP_RETURN_IF_ERROR(
          be.MaxPoolBackward(enc_[i - 1].out.shape(), din_, argmax_[i - 1], &d_));
      PETPREP_RETURN_IF_ERROR(Note("pool" + std::to_string(i), "backward", &d_));
    }
  }
  if (!Tracing()) return Status::Ok();
  Status s;
  VisitParams(*this, [&](const std::string& name, DeviceTensor&, DeviceTensor& g, const Shape&) {
    if (s.ok()) s = Note(name, "grad", &g);
  });
  return s;
}

}  // namespace petprep
