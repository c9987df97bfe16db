#include "pipeline/train/unet.h"

#include <utility>

#include "pipeline/train/optim.h"

namespace petprep {
UNet::UNet(UNetConfig config) : config_(std::move(config)) {
  const std::vector<int>& w = config_.widths;
  const int levels = static_cast<int>(w.size());
  auto conv = [](Conv& c, const std::string& name, int co, int ci, int k, bool bias) {
    c.name = name;
    c.w.Resize(co, ci, k, k);
    c.bias = bias;
    if (bias) c.b.Resize(co, 1, 1, 1);
  };
  auto bn = [](Bn& b, const std::string& name, int c) {
    b.name = name;
    b.gamma.Resize(c, 1, 1, 1);
    b.beta.Resize(c, 1, 1, 1);
    b.mean.Resize(c, 1, 1, 1);
    b.var.Resize(c, 1, 1, 1);
  };
  auto block = [&](Block& b, const std::string& name, int ci, int co) {
    conv(b.c1, name + ".conv1", co, ci, 3, false);
    bn(b.b1, name + ".bn1", co);
    conv(b.c2, name + ".conv2", co, co, 3, false);
    bn(b.b2, name + ".bn2", co);
  };
  enc_.resize(levels);
  for (int i = 0; i < levels; ++i) {
    block(enc_[i], "enc" + std::to_string(i + 1), i == 0 ? config_.in_channels : w[i - 1], w[i]);
  }
  dec_.resize(levels - 1);
  up_.resize(levels - 1);
  for (int i = levels - 2; i >= 0; --i) {
    Conv& t = up_[i].t;
    t.name = "up" + std::to_string(i + 1);
    t.w.Resize(w[i + 1], w[i], 2, 2);  // (Ci, Co, 2, 2)
    t.bias = true;
    t.b.Resize(w[i], 1, 1, 1);
    block(dec_[i], "dec" + std::to_string(i + 1), 2 * w[i], w[i]);
  }
  conv(head_, "head", config_.classes, w[0], 1, true);
  pooled_.resize(levels - 1);
  argmax_.resize(levels - 1);
  Init(0);
}

// Every parameter in layer order: f(name, parameter, its gradient).
template <typename Net, typename F>
void VisitParams(Net& net, F f) {
  auto conv = [&](auto& c) {
    f(c.name + ".weight", c.w, c.dw);
    if (c.bias) f(c.name + ".bias", c.b, c.db);
  };
  auto block = [&](auto& b) {
    conv(b.c1);
    f(b.b1.name + ".weight", b.b1.gamma, b.b1.dgamma);
    f(b.b1.name + ".bias", b.b1.beta, b.b1.dbeta);
    conv(b.c2);
    f(b.b2.name + ".weight", b.b2.gamma, b.b2.dgamma);
    f(b.b2.name + ".bias", b.b2.beta, b.b2.dbeta);
  };
  for (auto& b : net.enc_) block(b);
  for (int i = static_cast<int>(net.up_.size()) - 1; i >= 0; --i) {
    conv(net.up_[i].t);
    block(net.dec_[i]);
  }
  conv(net.head_);
}

// Every BatchNorm running statistic in layer order: f(name, tensor).
template <typename Net, typename F>
void VisitBuffers(Net& net, F f) {
  auto block = [&](auto& b) {
    for (auto* bn : {&b.b1, &b.b2}) {
      f(bn->name + ".running_mean", bn->mean);
      f(bn->name + ".running_var", bn->var);
    }
  };
  for (auto& b : net.enc_) block(b);
  for (int i = static_cast<int>(net.up_.size()) - 1; i >= 0; --i) block(net.dec_[i]);
}

std::vector<Tensor*> UNet::Params() {
  std::vector<Tensor*> p;
  VisitParams(*this, [&](const std::string&, Tensor& w, Tensor&) { p.push_back(&w); });
  return p;
}

std::vector<const Tensor*> UNet::Grads() const {
  std::vector<const Tensor*> p;
  VisitParams(*this, [&](const std::string&, const Tensor&, const Tensor& g) { p.push_back(&g); });
  return p;
}

std::vector<std::string> UNet::ParamNames() const {
  std::vector<std::string> p;
  VisitParams(*this,
              [&](const std::string& name, const Tensor&, const Tensor&) { p.push_back(name); });
  return p;
}

std::vector<Tensor*> UNet::Buffers() {
  std::vector<Tensor*> p;
  VisitBuffers(*this, [&](const std::string&, Tensor& t) { p.push_back(&t); });
  return p;
}

std::vector<std::string> UNet::BufferNames() const {
  std::vector<std::string> p;
  VisitBuffers(*this, [&](const std::string& name, const Tensor&) { p.push_back(name); });
  return p;
}

size_t UNet::ParamCount() const {
  size_t n = 0;
  for (Tensor* t : const_cast<UNet*>(this)->Params()) n += t->size();
  return n;
}

Sha256Digest UNet::WeightsDigest() {
  Sha256 h;
  for (Tensor* t : Params()) HashTensor(*t, &h);
  for (Tensor* t : Buffers()) HashTensor(*t, &h);
  return h.Finish();
}

void UNet::Init(uint64_t seed) {
  std::vector<Tensor*> params = Params();
  std::vector<std::string> names = ParamNames();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& t = *params[i];
    const std::string& name = names[i];
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool is_bn = name.find(".bn") != std::string::npos;
    if (is_bn) {
      for (size_t e = 0; e < t.size(); ++e) t[e] = is_bias ? 0.0f : 1.0f;
    } else if (is_bias) {
      t.Zero();
    } else {
      // Conv (Co, Ci, k, k): fan_in = Ci k k. Transposed (Ci, Co, 2, 2): PyTorch's fan_in is
      // dim 1 times the taps, Co * 4.
      HeUniform(&t, t.c() * t.h() * t.w(), seed, static_cast<uint32_t>(i));
    }
  }
  std::vector<Tensor*> bufs = Buffers();  // mean, var, mean, var, ...
  for (size_t i = 0; i < bufs.size(); ++i) {
    Tensor& t = *bufs[i];
    for (size_t e = 0; e < t.size(); ++e) t[e] = i % 2 == 0 ? 0.0f : 1.0f;
  }
}

void UNet::BlockForward(Block& b, const Tensor& x, bool train) {
  b.in = &x;
  Tensor bn_out;
  Conv3x3Forward<float>(*b.in, b.c1.w, nullptr, &b.a1);
  if (train) {
    BatchNormForwardTrain(b.a1, b.b1.gamma, b.b1.beta, &b.b1.mean, &b.b1.var, &bn_out, &b.b1.cache);
  } else {
    BatchNormForwardEval(b.a1, b.b1.gamma, b.b1.beta, b.b1.mean, b.b1.var, &bn_out);
  }
  ReluForward(bn_out, &b.r1);
  Conv3x3Forward<float>(b.r1, b.c2.w, nullptr, &b.a2);
  if (train) {
    BatchNormForwardTrain(b.a2, b.b2.gamma, b.b2.beta, &b.b2.mean, &b.b2.var, &bn_out, &b.b2.cache);
  } else {
    BatchNormForwardEval(b.a2, b.b2.gamma, b.b2.beta, b.b2.mean, b.b2.var, &bn_out);
  }
  ReluForward(bn_out, &b.out);
}

void UNet::BlockBackward(Block& b, const Tensor& dout, Tensor* din) {
  Tensor d, dbn;
  ReluBackward(b.out, dout, &d);
  BatchNormBackward(d, b.b2.gamma, b.b2.cache, &dbn, &b.b2.dgamma, &b.b2.dbeta);
  Conv3x3Backward<float>(b.r1, b.c2.w, dbn, &d, &b.c2.dw, nullptr);
  ReluBackward(b.r1, d, &d);
  BatchNormBackward(d, b.b1.gamma, b.b1.cache, &dbn, &b.b1.dgamma, &b.b1.dbeta);
  Conv3x3Backward<float>(*b.in, b.c1.w, dbn, din, &b.c1.dw, nullptr);
}

const Tensor& UNet::Forward(const Tensor& x, bool train, uint64_t seed, uint64_t step) {
  const int levels = static_cast<int>(enc_.size());
  BlockForward(enc_[0], x, train);
  for (int i = 1; i < levels; ++i) {
    MaxPoolForward(enc_[i - 1].out, &pooled_[i - 1], &argmax_[i - 1]);
    BlockForward(enc_[i], pooled_[i - 1], train);
  }
  const Tensor* y = &enc_[levels - 1].out;
  dropout_used_ = train ? config_.dropout : 0.0f;
  if (dropout_used_ > 0.0f) {
    DropoutForward(*y, dropout_used_, seed, step, 0, &dropped_, &keep_);
    y = &dropped_;
  }
  for (int i = levels - 2; i >= 0; --i) {
    Up& u = up_[i];
    u.in = y;
    ConvT2x2Forward(*u.in, u.t.w, &u.t.b, &u.up);
    ConcatForward(u.up, enc_[i].out, &u.cat);
    BlockForward(dec_[i], u.cat, train);
    y = &dec_[i].out;
  }
  Conv1x1Forward(*y, head_.w, &head_.b, &logits_);
  return logits_;
}

void UNet::Backward(const Tensor& dlogits) {
  const int levels = static_cast<int>(enc_.size());
  Tensor d;
  Conv1x1Backward(levels > 1 ? dec_[0].out : enc_[0].out, head_.w, dlogits, &d, &head_.dw,
                  &head_.db);
  // Gradients reaching each encoder level's output through the skip connections.
  std::vector<Tensor> dskip(levels);
  for (int i = 0; i <= levels - 2; ++i) {
    Up& u = up_[i];
    Tensor dcat, dup;
    BlockBackward(dec_[i], d, &dcat);
    ConcatBackward(dcat, u.up.c(), &dup, &dskip[i]);
    ConvT2x2Backward(*u.in, u.t.w, dup, &d, &u.t.dw, &u.t.db);
  }
  if (dropout_used_ > 0.0f) DropoutBackward(d, dropout_used_, keep_, &d);
  for (int i = levels - 1; i >= 0; --i) {
    if (i < levels - 1) {
      // d holds the gradient from the level below (through the pool); add the skip's.
      Tensor& s = dskip[i];
      for (size_t e = 0; e < d.size(); ++e) d[e] = s[e] + d[e];
    }
    Tensor din;
    BlockBackward(enc_[i], d, i > 0 ? &din : nullptr);
    if (i > 0) MaxPoolBackward(enc_[i - 1].out, din, argmax_[i - 1], &d);
  }
}

}  // namespace petprep
