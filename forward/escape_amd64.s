//go:build !purego

#include "textflag.h"

// func lineMaskAVX2(s []byte, w *[maskWords]uint64) int
//
// Sets bit i%64 of w[i/64] for each byte i of s that needs a look before
// it goes into a JSON string (see specialBits): below 0x20 or from 0x80
// up, which is one signed compare (0x20 > int8(c)), '"' or '\\'. Returns
// the number of bits set. len(s) must be at least 32 and at most
// 64*maskWords. Full 64-byte blocks take two 32-byte compares each; the
// last partial block is read with a load of s's last 32 bytes (and the
// 32 before them when it holds more than 32), whose bits that belong to
// the block before are shifted out.
TEXT ·lineMaskAVX2(SB), NOSPLIT, $0-40
	MOVQ	s_base+0(FP), SI
	MOVQ	s_len+8(FP), BX
	MOVQ	w+24(FP), DI
	LEAQ	(SI)(BX*1), R9    // R9 = end of s
	XORQ	R8, R8            // R8 = bits set
	MOVQ	$0x20, AX
	VMOVD	AX, X10
	VPBROADCASTB	X10, Y10
	MOVQ	$0x22, AX
	VMOVD	AX, X11
	VPBROADCASTB	X11, Y11
	MOVQ	$0x5c, AX
	VMOVD	AX, X12
	VPBROADCASTB	X12, Y12
	MOVQ	BX, CX
	SHRQ	$6, CX            // CX = full 64-byte blocks
	JZ	tail

loop:
	VMOVDQU	(SI), Y0
	VMOVDQU	32(SI), Y1
	VPCMPGTB	Y0, Y10, Y2   // Y2 = 0x20 > int8(c)
	VPCMPEQB	Y0, Y11, Y3
	VPCMPEQB	Y0, Y12, Y4
	VPOR	Y2, Y3, Y2
	VPOR	Y2, Y4, Y2
	VPCMPGTB	Y1, Y10, Y5
	VPCMPEQB	Y1, Y11, Y6
	VPCMPEQB	Y1, Y12, Y7
	VPOR	Y5, Y6, Y5
	VPOR	Y5, Y7, Y5
	VPMOVMSKB	Y2, AX
	VPMOVMSKB	Y5, DX
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, (DI)
	POPCNTQ	AX, AX
	ADDQ	AX, R8
	ADDQ	$64, SI
	ADDQ	$8, DI
	DECQ	CX
	JNZ	loop

tail:
	MOVQ	R9, CX
	SUBQ	SI, CX            // CX = bytes left, 0 to 63
	JZ	done
	VMOVDQU	-32(R9), Y0       // the last 32 bytes of s
	VPCMPGTB	Y0, Y10, Y2
	VPCMPEQB	Y0, Y11, Y3
	VPCMPEQB	Y0, Y12, Y4
	VPOR	Y2, Y3, Y2
	VPOR	Y2, Y4, Y2
	VPMOVMSKB	Y2, DX    // DX = bits of bytes end-32 to end-1
	CMPQ	CX, $32
	JA	tail2
	// Up to 32 bytes left: the top CX bits of DX.
	NEGQ	CX
	ADDQ	$32, CX
	SHRQ	CX, DX
	MOVQ	DX, (DI)
	POPCNTQ	DX, DX
	ADDQ	DX, R8
	JMP	done

tail2:
	// 33 to 63 bytes left: 32 from SI, and the top CX-32 bits of DX.
	VMOVDQU	(SI), Y0
	VPCMPGTB	Y0, Y10, Y2
	VPCMPEQB	Y0, Y11, Y3
	VPCMPEQB	Y0, Y12, Y4
	VPOR	Y2, Y3, Y2
	VPOR	Y2, Y4, Y2
	VPMOVMSKB	Y2, AX
	NEGQ	CX
	ADDQ	$64, CX
	SHRQ	CX, DX
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, (DI)
	POPCNTQ	AX, AX
	ADDQ	AX, R8

done:
	VZEROUPPER
	MOVQ	R8, ret+32(FP)
	RET
