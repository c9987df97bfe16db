// petprep selftest: runs every training op forward and backward on fixed Philox inputs at
// a few shapes, plus Adam and SGD steps, and hashes the results. The fingerprint over all
// lines is the same on every machine that computes petprep's canonical arithmetic, for any
// thread count and SIMD path; kSelftestFingerprint is the published value (README.md).
// It also checks the Philox4x32-10 and MD5 fold known answers, and, where a CUDA device is
// present, that the device's convolution chains give the same lines.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/status.h"
#include "pipeline/train/backend.h"

namespace petprep {

// The fingerprint petprep's arithmetic gives; a different one means this machine or build
// computes other bits.
extern const char kSelftestFingerprint[];

struct SelftestLine {
  std::string op;      // conv3x3, conv1x1, convt2x2, batchnorm, relu, maxpool, concat,
                       // dropout, softmax_ce, bce_jaccard, adam, sgd, mathfn
  std::string shape;   // e.g. 2x5x9x11->7
  std::string digest;  // SHA-256 (hex) of the outputs and gradients
};

struct SelftestReport {
  std::vector<SelftestLine> lines;
  std::string fingerprint;            // SHA-256 over "op shape digest\n" of every line
  std::vector<std::string> failures;  // known answers or a GPU difference; empty when all pass
  std::string cuda;                   // the CUDA device: used, present, or why there is none
  std::string backend;                // the ops backend the lines ran on
};

// The op lines, every op run through the backend's interface (inputs uploaded, outputs read
// back); the elementwise functions run on the host. The CPU backend runs on the calling arena
// (see threads.h) and the active SIMD path. Stops at a backend's first error.
Status SelftestLines(Backend* backend, std::vector<SelftestLine>* lines);

// Everything: known answers, the lines on `backend` (null: the CPU's), the fingerprint against
// kSelftestFingerprint, and what CUDA device there is (--device cuda runs the lines on it).
SelftestReport RunSelftest(Backend* backend = nullptr);

}  // namespace petprep
