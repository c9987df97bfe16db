/* Loaded with LD_PRELOAD by float_env_test: sets FTZ and DAZ before petprep's main runs, as a
   library linked with -Ofast (crtfastmath.o) does. */
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
__attribute__((constructor)) static void petprep_test_set_ftz(void) {
  _mm_setcsr(_mm_getcsr() | (1u << 15) | (1u << 6));
}
#elif defined(__aarch64__)
__attribute__((constructor)) static void petprep_test_set_ftz(void) {
  unsigned long v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  __asm__ volatile("msr fpcr, %0" : : "r"(v | (1ul << 24)));
}
#endif
