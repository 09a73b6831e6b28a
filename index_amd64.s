//go:build amd64 && !purego

#include "go_asm.h"
#include "textflag.h"

// func indexEitherAVX2(b []byte, c1, c2 byte) int
//
// Returns the index of the first byte of b equal to c1 or c2, or -1.
// Compares 64 bytes per step, then 32; the last partial block is handled by one
// overlapping load of the final 32 bytes (the bytes it re-reads were already
// seen to hold no match), and inputs shorter than 32 bytes byte by byte.
TEXT ·indexEitherAVX2(SB), NOSPLIT, $0-40
	MOVQ	b_base+0(FP), SI
	MOVQ	b_len+8(FP), BX
	MOVBLZX	c1+24(FP), AX
	MOVBLZX	c2+25(FP), CX
	MOVQ	SI, DI            // DI = start of b
	LEAQ	(SI)(BX*1), R9    // R9 = end of b
	CMPQ	BX, $32
	JB	small

	VMOVD	AX, X1
	VPBROADCASTB	X1, Y1
	VMOVD	CX, X2
	VPBROADCASTB	X2, Y2
	LEAQ	-32(R9), R8       // R8 = start of the last full block
	LEAQ	-64(R9), R10      // R10 = start of the last full pair of blocks
	CMPQ	BX, $64
	JB	loop

loop64:
	VMOVDQU	(SI), Y3
	VMOVDQU	32(SI), Y6
	VPCMPEQB	Y1, Y3, Y4
	VPCMPEQB	Y2, Y3, Y5
	VPCMPEQB	Y1, Y6, Y7
	VPCMPEQB	Y2, Y6, Y8
	VPOR	Y4, Y5, Y4
	VPOR	Y7, Y8, Y7
	VPOR	Y4, Y7, Y9
	VPTEST	Y9, Y9
	JNZ	found64
	ADDQ	$64, SI
	CMPQ	SI, R10
	JBE	loop64
	CMPQ	SI, R8
	JA	last

loop:
	VMOVDQU	(SI), Y3
	VPCMPEQB	Y1, Y3, Y4
	VPCMPEQB	Y2, Y3, Y5
	VPOR	Y4, Y5, Y4
	VPMOVMSKB	Y4, DX
	TESTL	DX, DX
	JNZ	found
	ADDQ	$32, SI
	CMPQ	SI, R8
	JBE	loop

last:
	CMPQ	SI, R9
	JEQ	notfoundvec
	MOVQ	R8, SI
	VMOVDQU	(SI), Y3
	VPCMPEQB	Y1, Y3, Y4
	VPCMPEQB	Y2, Y3, Y5
	VPOR	Y4, Y5, Y4
	VPMOVMSKB	Y4, DX
	TESTL	DX, DX
	JNZ	found

notfoundvec:
	VZEROUPPER
	MOVQ	$-1, ret+32(FP)
	RET

found64:
	VPMOVMSKB	Y4, DX
	TESTL	DX, DX
	JNZ	found
	VPMOVMSKB	Y7, DX
	ADDQ	$32, SI

found:
	BSFL	DX, DX
	ADDQ	DX, SI
	SUBQ	DI, SI
	VZEROUPPER
	MOVQ	SI, ret+32(FP)
	RET

small:
	CMPQ	SI, R9
	JEQ	notfound
	MOVBLZX	(SI), DX
	CMPL	DX, AX
	JEQ	foundsmall
	CMPL	DX, CX
	JEQ	foundsmall
	INCQ	SI
	JMP	small

foundsmall:
	SUBQ	DI, SI
	MOVQ	SI, ret+32(FP)
	RET

notfound:
	MOVQ	$-1, ret+32(FP)
	RET

// func indexEitherAVX512(b []byte, c1, c2 byte) int
//
// The same search 64 bytes at a time, comparing into mask registers. The
// bytes after the last full block (and an input shorter than 64 bytes) are
// read with one masked load, which neither reads past b nor faults on the
// bytes it leaves out.
TEXT ·indexEitherAVX512(SB), NOSPLIT, $0-40
	MOVQ	b_base+0(FP), SI
	MOVQ	b_len+8(FP), BX
	MOVBLZX	c1+24(FP), AX
	MOVBLZX	c2+25(FP), CX
	MOVQ	SI, DI            // DI = start of b
	VPBROADCASTB	AX, Z1
	VPBROADCASTB	CX, Z2
	CMPQ	BX, $64
	JB	rest
	LEAQ	-64(SI)(BX*1), R8 // R8 = start of the last full block

loop:
	VMOVDQU8	(SI), Z3
	VPCMPEQB	Z1, Z3, K1
	VPCMPEQB	Z2, Z3, K2
	KORTESTQ	K1, K2
	JNZ	found
	ADDQ	$64, SI
	CMPQ	SI, R8
	JBE	loop
	LEAQ	64(R8), BX
	SUBQ	SI, BX            // BX = bytes left, 0 to 63

rest:
	MOVQ	$-1, DX
	BZHIQ	BX, DX, DX        // DX = one bit for each byte left
	KMOVQ	DX, K3
	VMOVDQU8.Z	(SI), K3, Z3
	VPCMPEQB	Z1, Z3, K3, K1    // masked: a zeroed byte must not match a 0 needle
	VPCMPEQB	Z2, Z3, K3, K2
	KORTESTQ	K1, K2
	JNZ	found
	VZEROUPPER
	MOVQ	$-1, ret+32(FP)
	RET

found:
	KORQ	K1, K2, K3
	KMOVQ	K3, DX
	TZCNTQ	DX, DX
	ADDQ	DX, SI
	SUBQ	DI, SI
	VZEROUPPER
	MOVQ	SI, ret+32(FP)
	RET
