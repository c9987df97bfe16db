// PETPREP_HD marks a function that compiles for both the host and a CUDA device.
//
// Kernel bodies are written once with it, so the CPU loops and the CUDA launchers run
// the very same arithmetic. Outside nvcc it expands to nothing.
#pragma once

#if defined(__CUDACC__)
#define PETPREP_HD __host__ __device__
#define PETPREP_HD_INLINE __host__ __device__ __forceinline__
#else
#define PETPREP_HD
#define PETPREP_HD_INLINE inline
#endif
