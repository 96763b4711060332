# Sums the bytes of the input memory (r1 = address, r2 = length) and
# returns the total.
mov %r0, 0
mov %r3, 0
loop:
jge %r3, %r2, done
mov %r4, %r1
add %r4, %r3
ldxb %r5, [%r4+0]
add %r0, %r5
add %r3, 1
ja loop
done:
exit
