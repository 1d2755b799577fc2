# Unit tests of brisk's internals, built straight from src/ (sourced by tests/run.sh).
build size_class gcc -O1 -g -Wall -Wextra -D_GNU_SOURCE -I"$ROOT/src" -I"$ROOT/include" \
    "$ROOT/tests/size_class.c" "$ROOT/src/size_class.c" -o "$T/size_class"
run size_class "size_class" "$T/size_class"
