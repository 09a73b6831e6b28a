//go:build amd64 && !purego

#include "go_asm.h"
#include "textflag.h"

// func quoteMasksAVX512(s []byte, m *lineMasks)
//
// Fills m for s, len(s) <= maskBytes: one 64-bit word of quotes, queries
// and brackets for each 64 bytes, the last, partial, block read with a
// masked load. Words past the end of s are left as they were.
TEXT ·quoteMasksAVX512(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), BX
	MOVQ	m+24(FP), DI
	LEAQ	lineMasks_queries(DI), DX
	LEAQ	lineMasks_brackets(DI), R9
	MOVL	$0x22, AX
	VPBROADCASTB	AX, Z1
	MOVL	$0x3f, AX
	VPBROADCASTB	AX, Z2
	MOVL	$0x5b, AX
	VPBROADCASTB	AX, Z4
	CMPQ	BX, $64
	JB	tail

block:
	VMOVDQU8	(SI), Z3
	VPCMPEQB	Z1, Z3, K1
	VPCMPEQB	Z2, Z3, K2
	VPCMPEQB	Z4, Z3, K4
	KMOVQ	K1, lineMasks_quotes(DI)
	KMOVQ	K2, (DX)
	KMOVQ	K4, (R9)
	ADDQ	$64, SI
	ADDQ	$8, DI
	ADDQ	$8, DX
	ADDQ	$8, R9
	SUBQ	$64, BX
	CMPQ	BX, $64
	JAE	block

tail:
	TESTQ	BX, BX
	JEQ	done
	MOVQ	$-1, AX
	BZHIQ	BX, AX, AX
	KMOVQ	AX, K3
	VMOVDQU8.Z	(SI), K3, Z3
	VPCMPEQB	Z1, Z3, K3, K1    // masked: a zeroed byte is no match
	VPCMPEQB	Z2, Z3, K3, K2
	VPCMPEQB	Z4, Z3, K3, K4
	KMOVQ	K1, lineMasks_quotes(DI)
	KMOVQ	K2, (DX)
	KMOVQ	K4, (R9)

done:
	VZEROUPPER
	RET

// func quoteMasksAVX2(s []byte, m *lineMasks)
//
// quoteMasksAVX512 for CPUs with AVX2 only; len(s) must be at least 64.
// The bytes after the last full block are covered by one more pass of the
// loop over the last 64 bytes of s, its masks shifted down past the bytes
// already done (the shift is 0 for the full blocks).
TEXT ·quoteMasksAVX2(SB), NOSPLIT, $0-32
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), BX
	MOVQ	m+24(FP), DI
	LEAQ	lineMasks_queries(DI), DX
	LEAQ	lineMasks_brackets(DI), R10
	MOVL	$0x22, AX
	VMOVD	AX, X1
	VPBROADCASTB	X1, Y1
	MOVL	$0x3f, AX
	VMOVD	AX, X2
	VPBROADCASTB	X2, Y2
	MOVL	$0x5b, AX
	VMOVD	AX, X9
	VPBROADCASTB	X9, Y9
	LEAQ	-64(SI)(BX*1), R8 // R8 = start of the last 64 bytes
	ANDQ	$63, BX           // BX = bytes after the last full block
	XORL	CX, CX            // CX = the shift: bytes of this block already done

block:
	VMOVDQU	(SI), Y3
	VMOVDQU	32(SI), Y4
	VPCMPEQB	Y1, Y3, Y5
	VPCMPEQB	Y1, Y4, Y6
	VPCMPEQB	Y2, Y3, Y7
	VPCMPEQB	Y2, Y4, Y8
	VPCMPEQB	Y9, Y3, Y10
	VPCMPEQB	Y9, Y4, Y11
	VPMOVMSKB	Y5, AX
	VPMOVMSKB	Y6, R9
	SHLQ	$32, R9
	ORQ	R9, AX
	SHRQ	CX, AX
	MOVQ	AX, lineMasks_quotes(DI)
	VPMOVMSKB	Y7, AX
	VPMOVMSKB	Y8, R9
	SHLQ	$32, R9
	ORQ	R9, AX
	SHRQ	CX, AX
	MOVQ	AX, (DX)
	VPMOVMSKB	Y10, AX
	VPMOVMSKB	Y11, R9
	SHLQ	$32, R9
	ORQ	R9, AX
	SHRQ	CX, AX
	MOVQ	AX, (R10)
	ADDQ	$64, SI
	ADDQ	$8, DI
	ADDQ	$8, DX
	ADDQ	$8, R10
	CMPQ	SI, R8
	JBE	block

	TESTQ	BX, BX
	JEQ	done
	MOVQ	R8, SI            // one more block: the last 64 bytes,
	MOVQ	$64, CX
	SUBQ	BX, CX            // shifted past the 64-BX bytes already done,
	XORL	BX, BX            // and then no more
	JMP	block

done:
	VZEROUPPER
	RET
