// The translation unit that compiles gr_pch's precompiled header (see the
// top CMakeLists.txt); it defines nothing.
