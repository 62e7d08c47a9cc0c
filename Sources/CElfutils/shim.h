#ifndef PERCH_CELFUTILS_H
#define PERCH_CELFUTILS_H
#include <libelf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#endif
