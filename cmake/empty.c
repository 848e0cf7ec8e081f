/* keeps a stage library valid while it has no sources of its own */
typedef int kr_empty_translation_unit;
