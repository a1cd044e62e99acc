/*
 * layers_backward.c - backward kernels of the GPT-2 layers
 *
 * Owns: the gradient of every forward kernel of layers.c that training
 * goes through (embedding, LayerNorm, Conv1D matmul, tanh GELU, causal
 * attention over ragged sequences), the attention of the last token only
 * (the last block of a last-token classifier), and the fused softmax +
 * cross-entropy of both losses. Every matrix product is one cblas_sgemm
 * (sgemv for the single-row attention), including attention's backward.
 * Not here: the forward kernels (layers.c), the pass and arenas
 * (gpt_train.c).
 * Letters: N rows, C channels, OC output channels, NH heads, hs = C / NH,
 * T the length of one sequence, B sequences. Row-major everywhere.
 * Checked by: tests/test_train_grad.c (finite differences) and
 * tests/test_train_torch.py (PyTorch autograd).
 * Threads: pure functions. Errors: none (shapes are the caller's contract).
 */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "layers_backward.h"

#define GELU_SCALE 0.7978845608028654f	/* sqrt(2 / pi) */

/* encoder_backward - scatter-add the rows of dout into wte and wpe rows */
void
encoder_backward(float *dwte, float *dwpe, const float *dout,
		 const int32_t *ids, const int *lens, int B, int C)
{
	gsize row = 0;

	for (int b = 0; b < B; b++) {
		for (int t = 0; t < lens[b]; t++, row++) {
			const float *d = dout + row * C;
			if (dwte != NULL) {
				float *w = dwte + (gsize)ids[row] * C;
				for (int i = 0; i < C; i++)
					w[i] += d[i];
			}
			if (dwpe != NULL) {
				float *p = dwpe + (gsize)t * C;
				for (int i = 0; i < C; i++)
					p[i] += d[i];
			}
		}
	}
}

/*
 * layernorm_backward - with xhat = (x - mean) * rstd and g = dout * weight:
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), dweight += dout * xhat,
 * dbias += dout
 */
void
layernorm_backward(float *dinp, float *dweight, float *dbias,
		   const float *dout, const float *inp, const float *weight,
		   const float *mean, const float *rstd, int N, int C)
{
	for (int r = 0; r < N; r++) {
		const float *dy = dout + (gsize)r * C;
		const float *x = inp + (gsize)r * C;
		const float m = mean[r], s = rstd[r];

		if (dweight != NULL || dbias != NULL) {
			for (int i = 0; i < C; i++) {
				if (dweight != NULL)
					dweight[i] += dy[i] * (x[i] - m) * s;
				if (dbias != NULL)
					dbias[i] += dy[i];
			}
		}
		if (dinp == NULL)
			continue;
		/* The two row means of the normalisation's Jacobian. */
		float sum_g = 0.0f, sum_gx = 0.0f;
		for (int i = 0; i < C; i++) {
			float g = dy[i] * weight[i];
			sum_g += g;
			sum_gx += g * (x[i] - m) * s;
		}
		sum_g /= (float)C;
		sum_gx /= (float)C;
		float *dx = dinp + (gsize)r * C;
		for (int i = 0; i < C; i++) {
			float xhat = (x[i] - m) * s;
			dx[i] += s * (dy[i] * weight[i] - sum_g - xhat * sum_gx);
		}
	}
}

/*
 * matmul_backward - dinp (N, C) = dout (N, OC) @ weight^T;
 * dweight (C, OC) += inp^T (C, N) @ dout; dbias (OC) += column sums of dout
 */
void
matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
		const float *inp, const float *weight, int N, int C, int OC)
{
	if (N == 0)
		return;
	if (dinp != NULL)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC,
			    1.0f, dout, OC, weight, OC, 0.0f, dinp, C);
	if (dweight != NULL)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N,
			    1.0f, inp, C, dout, OC, 1.0f, dweight, OC);
	if (dbias != NULL) {
		for (int r = 0; r < N; r++) {
			const float *d = dout + (gsize)r * OC;
			for (int o = 0; o < OC; o++)
				dbias[o] += d[o];
		}
	}
}

/*
 * gelu_backward - d/dx of the tanh GELU. With s = sigmoid(2u) =
 * 0.5 (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3), gelu = x s and
 *	gelu' = s + 2 x s (1 - s) u' = s + 2 gelu (1 - s) u'
 * s is read back as out / x from the forward's output instead of paying
 * for a tanh per element again; near x = 0, where that quotient loses its
 * digits, s = 1/2 + u/2 to first order. Where gelu underflows (x below
 * about -9) s reads 0, and so does the true derivative, to 1e-27.
 */
void
gelu_backward(float *dinp, const float *inp, const float *out,
	      const float *dout, gsize n)
{
	for (gsize i = 0; i < n; i++) {
		float x = inp[i], o = out[i];
		float x2 = x * x;
		float s = fabsf(x) > 1e-3f ? o / x : 0.5f + 0.5f * GELU_SCALE * x;
		float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x2);
		dinp[i] = (s + 2.0f * o * (1.0f - s) * du) * dout[i];
	}
}

/* causal_softmax_rows - P (T, T) in place from the scores: row t becomes
 * softmax over columns 0..t, zeros after */
static void
causal_softmax_rows(float *P, int T)
{
	for (int t = 0; t < T; t++) {
		float *row = P + (gsize)t * T;
		float mx = row[0];
		for (int j = 1; j <= t; j++)
			if (row[j] > mx)
				mx = row[j];
		float sum = 0.0f;
		for (int j = 0; j <= t; j++) {
			row[j] = expf(row[j] - mx);
			sum += row[j];
		}
		float inv = 1.0f / sum;
		for (int j = 0; j <= t; j++)
			row[j] *= inv;
		for (int j = t + 1; j < T; j++)
			row[j] = 0.0f;
	}
}

/*
 * attention_backward - per sequence and head, with S = scale Q K^T,
 * P = causal softmax(S), O = P V:
 *	dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(P * dP)),
 *	dQ = scale dS K,  dK = scale dS^T Q
 * Q, K, V, dQ, dK, dV are strided views (ld 3C) into qkv and dqkv.
 */
void
attention_backward(float *dqkv, float *scratch, const float *dout,
		   const float *qkv, const int *lens, int B, int C, int NH)
{
	const int hs = C / NH, C3 = 3 * C;
	const float scale = 1.0f / sqrtf((float)hs);
	gsize off = 0;

	for (int b = 0; b < B; b++) {
		const int T = lens[b];
		float *P = scratch;			/* (T, T) */
		float *dP = scratch + (gsize)T * T;	/* (T, T) */

		for (int h = 0; h < NH; h++) {
			const float *Q = qkv + off * C3 + h * hs;
			const float *K = Q + C;
			const float *V = Q + 2 * C;
			const float *dO = dout + off * C + h * hs;
			float *dQ = dqkv + off * C3 + h * hs;
			float *dK = dQ + C;
			float *dV = dQ + 2 * C;

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    T, T, hs, scale, Q, C3, K, C3, 0.0f, P, T);
			causal_softmax_rows(P, T);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    T, T, hs, 1.0f, dO, C, V, C3, 0.0f, dP, T);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    T, hs, T, 1.0f, P, T, dO, C, 0.0f, dV, C3);
			/* dS in place of dP; the masked upper part is 0
			 * because P is. */
			for (int t = 0; t < T; t++) {
				const float *p = P + (gsize)t * T;
				float *d = dP + (gsize)t * T;
				float dot = 0.0f;
				for (int j = 0; j <= t; j++)
					dot += p[j] * d[j];
				for (int j = 0; j <= t; j++)
					d[j] = p[j] * (d[j] - dot);
				for (int j = t + 1; j < T; j++)
					d[j] = 0.0f;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
				    T, hs, T, scale, dP, T, K, C3, 0.0f, dQ, C3);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    T, hs, T, scale, dP, T, Q, C3, 0.0f, dK, C3);
		}
		off += T;
	}
}

/* last_token_probs - p (T) = softmax_j(scale q_last . k_j), j < T */
static void
last_token_probs(float *p, const float *Q, const float *K, int T, int C3,
		 int hs, float scale)
{
	const float *q = Q + (gsize)(T - 1) * C3;

	cblas_sgemv(CblasRowMajor, CblasNoTrans, T, hs, scale, K, C3, q, 1,
		    0.0f, p, 1);
	float mx = p[0];
	for (int j = 1; j < T; j++)
		if (p[j] > mx)
			mx = p[j];
	float sum = 0.0f;
	for (int j = 0; j < T; j++) {
		p[j] = expf(p[j] - mx);
		sum += p[j];
	}
	float inv = 1.0f / sum;
	for (int j = 0; j < T; j++)
		p[j] *= inv;
}

/*
 * attention_last_backward - for the last query q of each sequence and head:
 * dv_j = p_j dO, dp_j = dO . v_j, ds_j = p_j (dp_j - p . dp),
 * dq = scale sum_j ds_j k_j, dk_j = scale ds_j q; other q rows get 0
 */
void
attention_last_backward(float *dqkv, float *scratch, const float *dout,
			const float *qkv, const int *lens, int B, int C,
			int NH)
{
	const int hs = C / NH, C3 = 3 * C;
	const float scale = 1.0f / sqrtf((float)hs);
	gsize off = 0;

	for (int b = 0; b < B; b++) {
		const int T = lens[b];
		float *p = scratch, *dp = scratch + T;

		for (int h = 0; h < NH; h++) {
			const float *Q = qkv + off * C3 + h * hs;
			const float *K = Q + C, *V = Q + 2 * C;
			const float *q = Q + (gsize)(T - 1) * C3;
			const float *dO = dout + (gsize)b * C + h * hs;
			float *dQ = dqkv + off * C3 + h * hs;

			last_token_probs(p, Q, K, T, C3, hs, scale);
			cblas_sgemv(CblasRowMajor, CblasNoTrans, T, hs, 1.0f,
				    V, C3, dO, 1, 0.0f, dp, 1);
			float dot = 0.0f;
			for (int j = 0; j < T; j++)
				dot += p[j] * dp[j];
			for (int j = 0; j < T; j++) {
				float ds = scale * p[j] * (dp[j] - dot);
				float *dq = dQ + (gsize)j * C3;
				float *dk = dq + C, *dv = dq + 2 * C;
				for (int i = 0; i < hs; i++) {
					dq[i] = 0.0f;
					dk[i] = ds * q[i];
					dv[i] = p[j] * dO[i];
				}
				dp[j] = ds;	/* keep scale * ds for dq */
			}
			cblas_sgemv(CblasRowMajor, CblasTrans, T, hs, 1.0f, K,
				    C3, dp, 1, 0.0f,
				    dQ + (gsize)(T - 1) * C3, 1);
		}
		off += T;
	}
}

/* crossentropy_softmax_backward - fused softmax, CE loss and its gradient */
double
crossentropy_softmax_backward(float *dlogits, const float *logits,
			      const int *targets, const float *weights,
			      float scale, int B, int NC)
{
	double loss = 0.0;

	for (int b = 0; b < B; b++) {
		const float *l = logits + (gsize)b * NC;
		float *d = dlogits != NULL ? dlogits + (gsize)b * NC : NULL;
		const int y = targets[b];

		if (y < 0) {
			if (d != NULL)
				memset(d, 0, sizeof(float) * NC);
			continue;
		}
		g_assert(y < NC);
		const float w = weights != NULL ? weights[y] : 1.0f;
		const float ly = l[y];
		float mx = l[0];
		for (int j = 1; j < NC; j++)
			if (l[j] > mx)
				mx = l[j];
		float sum = 0.0f;
		if (d != NULL) {
			for (int j = 0; j < NC; j++) {
				d[j] = expf(l[j] - mx);
				sum += d[j];
			}
		} else {
			for (int j = 0; j < NC; j++)
				sum += expf(l[j] - mx);
		}
		loss += w * ((double)logf(sum) + mx - ly);
		if (d == NULL)
			continue;
		const float k = scale * w / sum;
		for (int j = 0; j < NC; j++)
			d[j] *= k;
		d[y] -= scale * w;
	}
	return loss;
}
