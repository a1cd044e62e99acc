/*
 * classifier_text_score.c - the spam score the classifier gives one
 * extracted text, and the ids it reads of it
 *
 * Owns: the serving side of tests/test_score_agree.sh. gptmilter and
 * gptmilter-classify reach the model through classifier_tokenize, which
 * extracts the text and then runs classifier_tokenize_text, as this does;
 * mail always has some text, so only here can the test give the serving
 * path an empty text (the one that reads the end-of-text id) and compare
 * it with gptmilter-train eval's score of an empty TSV text.
 *	classifier_text_score MODEL TEXT
 * Output: the spam score (%.17g), a tab, the ids separated by blanks.
 * Exit: 0, or 1 when the model does not load.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "classifier.h"

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: classifier_text_score MODEL TEXT\n");
		return 2;
	}
	g_autoptr(Classifier) c = classifier_load(argv[1], &error);
	if (c == NULL) {
		fprintf(stderr, "classifier_text_score: %s\n", error->message);
		return 1;
	}
	g_autoptr(ClassifierWorker) w = classifier_worker_new(c, 1);
	g_autofree int32_t *ids = g_new(int32_t, classifier_max_tokens(c));
	g_autofree float *probs = g_new(float, classifier_num_labels(c));
	int n = classifier_tokenize_text(c, argv[2], strlen(argv[2]), ids);

	classifier_score_ids(c, w, ids, &n, 1, probs);
	printf("%.17g\t", classifier_spam_score(c, probs));
	for (int i = 0; i < n; i++)
		printf(i ? " %d" : "%d", ids[i]);
	printf("\n");
	return 0;
}
