package unwind

import "github.com/bugcheck/bugcheck/cpuctx"

// MaxX86Frame bounds the distance between two frame pointers: larger
// than any real kernel stack, small enough to reject a stale pointer.
const MaxX86Frame = 1 << 20

// X86 walks an x86 stack from ctx by following the EBP chain: each frame
// saved its caller's EBP at [EBP] and the return address sits at
// [EBP+4]. The chain must climb the stack, stay in captured memory, and
// lead to return addresses inside loaded modules; the first link that
// does not ends the walk. Functions compiled without frame pointers
// (FPO) are skipped over, as with any EBP walk.
func X86(ctx *cpuctx.Context, mem Memory, mods Modules) Result {
	w := newWalker(mem, mods, nil)
	const mask = 0xffffffff
	ip, sp, bp := ctx.PC()&mask, ctx.SP()&mask, ctx.FP()&mask
	var res Result
	method := MethodContext
	for {
		if len(res.Frames) == MaxFrames {
			return res.stop(StopMaxFrames, "stopped after %d frames", MaxFrames)
		}
		w.addFrame(&res, ip, sp, method, nil)
		switch {
		case bp == 0:
			return res.stop(StopEnd, "reached the end of the frame chain (ebp 0)")
		case bp&3 != 0:
			return res.stop(StopBadFrame, "ebp %#x is not aligned", bp)
		case bp < sp:
			return res.stop(StopBadFrame, "ebp %#x lies below the stack pointer %#x", bp, sp)
		case bp-sp > MaxX86Frame:
			return res.stop(StopBadFrame, "ebp %#x lies %#x bytes above the stack pointer", bp, bp-sp)
		}
		next, err := w.u32(bp)
		if err != nil {
			return res.stop(StopMemory, "the frame at ebp %#x was not captured", bp)
		}
		ret, err := w.u32(bp + 4)
		if err != nil {
			return res.stop(StopMemory, "the return address at %#x was not captured", bp+4)
		}
		if ret == 0 {
			return res.stop(StopEnd, "reached the end of the stack (return address 0)")
		}
		if _, ok := mods.ModuleAt(uint64(ret)); !ok {
			return res.stop(StopBadFrame, "the return address %#x at %#x is in no loaded module", ret, bp+4)
		}
		if next != 0 && uint64(next) <= bp {
			w.addFrame(&res, uint64(ret), bp+8, MethodFramePointer, nil)
			return res.stop(StopNoProgress, "the saved ebp %#x at %#x does not climb the stack", next, bp)
		}
		ip, sp, bp, method = uint64(ret), (bp+8)&mask, uint64(next), MethodFramePointer
	}
}
