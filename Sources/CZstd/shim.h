#ifndef PERCH_CZSTD_H
#define PERCH_CZSTD_H
#include <zstd.h>
#endif
