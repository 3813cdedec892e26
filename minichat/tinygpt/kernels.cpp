// Matrix-vector products for quantized weights with int8 activations, for x86 CPUs
// with AVX2 and FMA (see kernels.py for when they are used and how they are built).
//
// Each row of activations is quantized to int8 in blocks of 32 with one scale per
// block (llama.cpp's Q8_1); the weights are multiplied in integers and each block's
// integer sum is scaled once:
//
//   q4_linear: weights in Q4_1 groups of 32, w = scale * q + min, q in 0..15, stored
//              two to a byte (value i in the low nibble, value i + 16 in the high).
//              A group's dot product is scale * dx * sum(q * qx) + min * dx * sum(qx).
//   q8_linear: int8 weights with one scale per output row.
//
// AVX2's _mm256_maddubs_epi16 multiplies unsigned by signed bytes and adds pairs
// into 16 bits: 4-bit weights are unsigned as they are; int8 weights are made so by
// moving each weight's sign onto its activation (_mm256_sign_epi8).

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Half.h>
#include <immintrin.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr int64_t kBlock = 32;

// x (rows x k, fp32) to int8 blocks: qx (rows x k), dx and sx (rows x k / 32):
// each block's scale and its scale times the sum of its integers.
void quantize_rows(const float* x, int64_t rows, int64_t k, int8_t* qx, float* dx, float* sx) {
  const int64_t blocks = k / kBlock;
  for (int64_t b = 0; b < rows * blocks; ++b) {
    const float* in = x + b * kBlock;
    float amax = 0.f;
    bool finite = true;
    for (int i = 0; i < kBlock; ++i) {
      amax = std::max(amax, std::fabs(in[i]));
      finite = finite && std::isfinite(in[i]);
    }
    // a block with a NaN or an infinity gets a NaN scale, so the output says so; one
    // too small to scale (amax under 1e-30) counts as zeros
    const float d = finite ? amax / 127.f : NAN;
    const float inv = finite && amax > 1e-30f ? 127.f / amax : 0.f;
    int sum = 0;
    for (int i = 0; i < kBlock; ++i) {
      const float v = std::fmin(std::fmax(std::nearbyint(in[i] * inv), -127.f), 127.f);
      const int q = static_cast<int>(v);
      qx[b * kBlock + i] = static_cast<int8_t>(q);
      sum += q;
    }
    dx[b] = d;
    sx[b] = d * static_cast<float>(sum);
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 unsigned bytes times 32 signed bytes, summed in pairs and then in fours: 8 int32
// lanes, as floats.
inline __m256 dot32(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// a[i] * b[i] for i < g into out (a in fp16), and their sum.
inline float scaled(const uint16_t* a, const float* b, int64_t g, float* out) {
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= g; i += 8) {
    const __m256 p = _mm256_mul_ps(
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))),
        _mm256_loadu_ps(b + i));
    _mm256_storeu_ps(out + i, p);
    sum = _mm256_add_ps(sum, p);
  }
  float total = hsum(sum);
  for (; i < g; ++i) {
    out[i] = _cvtsh_ss(a[i]) * b[i];
    total += out[i];
  }
  return total;
}

// group b of a Q4_1 row times the same group of int8 activations: 8 lanes of sums.
inline __m256 q4_dot(const uint8_t* w, const int8_t* x, int64_t b, __m128i low) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + b * 16));
  const __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), low),
                                     _mm_and_si128(bytes, low));
  return dot32(q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + b * kBlock)));
}

// block b of an int8 row times the same block of activations: 8 lanes of sums.
inline __m256 q8_dot(const int8_t* w, const int8_t* x, int64_t b) {
  const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * kBlock));
  const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + b * kBlock));
  return dot32(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
}

struct Activations {
  at::Tensor q, d, s;
};

Activations quantize(const at::Tensor& x2) {
  const int64_t rows = x2.size(0), k = x2.size(1);
  auto opts = x2.options();
  Activations a{at::empty({rows, k}, opts.dtype(at::kChar)),
                at::empty({rows, k / kBlock}, opts.dtype(at::kFloat)),
                at::empty({rows, k / kBlock}, opts.dtype(at::kFloat))};
  quantize_rows(x2.data_ptr<float>(), rows, k, a.q.data_ptr<int8_t>(), a.d.data_ptr<float>(),
                a.s.data_ptr<float>());
  return a;
}

at::Tensor flat_fp32(const at::Tensor& x) {
  return x.reshape({-1, x.size(-1)}).to(at::kFloat).contiguous();
}

at::Tensor shaped(const at::Tensor& y, const at::Tensor& x, int64_t n) {
  auto sizes = x.sizes().vec();
  sizes.back() = n;
  return y.to(x.scalar_type()).view(sizes);
}

// x: (..., k) float or bf16; nibbles: (n, k / 2) uint8; scales, mins: (n, k / 32) fp16.
at::Tensor q4_linear(const at::Tensor& x, const at::Tensor& nibbles, const at::Tensor& scales,
                     const at::Tensor& mins) {
  TORCH_CHECK(nibbles.is_contiguous() && scales.is_contiguous() && mins.is_contiguous(),
              "q4_linear: the weights must be contiguous");
  const at::Tensor x2 = flat_fp32(x);
  const int64_t rows = x2.size(0), k = x2.size(1), n = nibbles.size(0), g = k / kBlock;
  TORCH_CHECK(k % kBlock == 0 && nibbles.size(1) == k / 2 && scales.size(0) == n &&
                  scales.size(1) == g && mins.sizes() == scales.sizes(),
              "q4_linear: inputs in groups of 32 and weights of the same width");
  const Activations a = quantize(x2);
  at::Tensor y = at::empty({rows, n}, x2.options());
  const uint8_t* w = nibbles.data_ptr<uint8_t>();
  const uint16_t* ws = reinterpret_cast<const uint16_t*>(scales.data_ptr<c10::Half>());
  const uint16_t* wm = reinterpret_cast<const uint16_t*>(mins.data_ptr<c10::Half>());
  const int8_t* qx = a.q.data_ptr<int8_t>();
  const float* dx = a.d.data_ptr<float>();
  const float* sx = a.s.data_ptr<float>();
  float* out = y.data_ptr<float>();
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    const __m128i low = _mm_set1_epi8(0x0F);
    std::vector<float> scales_of_row(g);  // its group scales times the activations' ones
    float* scale = scales_of_row.data();
    for (int64_t j = begin; j < end; ++j) {
      const uint8_t* wj = w + j * k / 2;
      const uint16_t* sj = ws + j * g;
      const uint16_t* mj = wm + j * g;
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t* qr = qx + r * k;
        const float offset = scaled(mj, sx + r * g, g, scale);  // sum of min * dx * sum(qx)
        scaled(sj, dx + r * g, g, scale);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 1 < g; b += 2) {
          acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(scale + b), q4_dot(wj, qr, b, low), acc0);
          acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(scale + b + 1), q4_dot(wj, qr, b + 1, low),
                                 acc1);
        }
        if (b < g) {
          acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(scale + b), q4_dot(wj, qr, b, low), acc0);
        }
        out[r * n + j] = hsum(_mm256_add_ps(acc0, acc1)) + offset;
      }
    }
  });
  return shaped(y, x, n);
}

// x: (..., k) float or bf16; weight: (n, k) int8; scales: (n,) fp32.
at::Tensor q8_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scales) {
  TORCH_CHECK(weight.is_contiguous() && scales.is_contiguous(),
              "q8_linear: the weights must be contiguous");
  const at::Tensor x2 = flat_fp32(x);
  const int64_t rows = x2.size(0), k = x2.size(1), n = weight.size(0), g = k / kBlock;
  TORCH_CHECK(k % kBlock == 0 && weight.size(1) == k && scales.size(0) == n,
              "q8_linear: inputs in blocks of 32 and weights of the same width");
  const Activations a = quantize(x2);
  at::Tensor y = at::empty({rows, n}, x2.options());
  const int8_t* w = weight.data_ptr<int8_t>();
  const float* ws = scales.data_ptr<float>();
  const int8_t* qx = a.q.data_ptr<int8_t>();
  const float* dx = a.d.data_ptr<float>();
  float* out = y.data_ptr<float>();
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const int8_t* wj = w + j * k;
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t* qr = qx + r * k;
        const float* dr = dx + r * g;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 1 < g; b += 2) {
          acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(dr + b), q8_dot(wj, qr, b), acc0);
          acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(dr + b + 1), q8_dot(wj, qr, b + 1), acc1);
        }
        if (b < g) {
          acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(dr + b), q8_dot(wj, qr, b), acc0);
        }
        out[r * n + j] = hsum(_mm256_add_ps(acc0, acc1)) * ws[j];
      }
    }
  });
  return shaped(y, x, n);
}

}  // namespace

TORCH_LIBRARY(minichat, m) {
  m.def("q4_linear(Tensor x, Tensor nibbles, Tensor scales, Tensor mins) -> Tensor");
  m.def("q8_linear(Tensor x, Tensor weight, Tensor scales) -> Tensor");
}

TORCH_LIBRARY_IMPL(minichat, CPU, m) {
  m.impl("q4_linear", &q4_linear);
  m.impl("q8_linear", &q8_linear);
}
