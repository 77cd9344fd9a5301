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
#include <stb_image.h>
#include <stb_image_write.h>
