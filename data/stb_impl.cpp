// The one translation unit that compiles stb_image (PNG/JPEG/BMP decoding) and stb_image_write (PNG).
// stb_image decodes by content, not by file name: without STBI_ONLY_*, a ".png" holding a PSD, HDR, GIF, TGA,
// PIC or PNM would reach those decoders too. The image folder reads PNG, JPEG and BMP; nothing else is compiled.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <string.h>

// stb_image 2.27 calls memcpy(NULL, src, 0) for a PNG whose first IDAT chunk is empty (found by
// tests/fuzz/fuzz_image.cpp): undefined behaviour in C, although glibc copies nothing. Its memcpy calls go
// through this wrapper, which skips empty copies (string.h is included first, so its declaration is untouched).
static void* stbi_checked_memcpy(void* to, const void* from, size_t n) { return n == 0 ? to : memcpy(to, from, n); }
#define memcpy stbi_checked_memcpy
#include <stb_image.h>
#undef memcpy
#include <stb_image_write.h>
